import { useState } from "preact/hooks";
import { call, type Defs } from "../api/client";
import { dateTime, t } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";

type Record = Defs["v1AuditRecord"];

/** AuditLog is who called what, newest first, filtered by member or key, a page of
 * 50 at a time. */
export function AuditLog() {
  const [memberId, setMemberId] = useState("");
  const [keyId, setKeyId] = useState("");
  const [filter, setFilter] = useState({ memberId: "", keyId: "" });
  const [pages, setPages] = useState<Record[][]>([]);
  const [token, setToken] = useState("");
  const first = useLoad(async () => {
    const r = await call("get", "/v1/auditLog", { query: { ...filter, pageSize: 50 } });
    setPages([r.records ?? []]);
    setToken(r.nextPageToken ?? "");
    return r;
  }, [filter.memberId, filter.keyId]);
  const [more, setMore] = useState(false);
  const loadMore = async () => {
    if (more || !token) return;
    setMore(true);
    try {
      const r = await call("get", "/v1/auditLog", { query: { ...filter, pageSize: 50, pageToken: token } });
      setPages([...pages, r.records ?? []]);
      setToken(r.nextPageToken ?? "");
    } finally {
      setMore(false);
    }
  };
  const rows = pages.flat();
  return (
    <section class="card wide" aria-labelledby="audit-title">
      <h1 id="audit-title">{t("audit.title")}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ memberId: memberId.trim(), keyId: keyId.trim() });
        }}
      >
        <div>
          <label for="au-member">{t("audit.member")}</label>
          <input id="au-member" value={memberId} autocomplete="off" onInput={(e) => setMemberId((e.target as HTMLInputElement).value)} />
        </div>
        <div>
          <label for="au-key">{t("audit.key")}</label>
          <input id="au-key" value={keyId} autocomplete="off" onInput={(e) => setKeyId((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit" class="secondary end">
          {t("audit.filter")}
        </button>
      </form>
      {first.error && <p role="alert">{errorText(first.error)}</p>}
      {first.value && rows.length === 0 && <p class="muted">{t("audit.none")}</p>}
      {rows.length > 0 && (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="audit-title">
          <table data-testid="audit">
            <thead>
              <tr>
                <th scope="col">{t("audit.time")}</th>
                <th scope="col">{t("audit.who")}</th>
                <th scope="col">{t("audit.method")}</th>
                <th scope="col">{t("audit.target")}</th>
                <th scope="col">{t("audit.outcome")}</th>
              </tr>
            </thead>
            <tbody translate={false}>
              {rows.map((r) => (
                <tr>
                  <td class="time">{dateTime(r.time)}</td>
                  <td>
                    <code>{r.keyId}</code> <span class="muted small">{r.role}</span>
                  </td>
                  <td>
                    <code>{(r.method ?? "").replace(/^\/loyalty\.v1\./, "")}</code>
                  </td>
                  <td>
                    <code>{r.target}</code>
                  </td>
                  <td>
                    <span class={r.outcome === "OK" ? "badge status-issued" : "badge status-rejected"}>{r.outcome}</span>
                    {r.reason && <span class="muted small"> {r.reason}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {token && (
        <button type="button" class="secondary" disabled={more} onClick={loadMore}>
          {more ? t("common.loading") : t("audit.more")}
        </button>
      )}
    </section>
  );
}
