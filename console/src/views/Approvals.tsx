import { useState } from "preact/hooks";
import { call, type Defs } from "../api/client";
import { dateTime, points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { can } from "../roles";
import { href } from "../route";
import { errorText } from "./App";

const statuses = ["PENDING", "APPROVED", "REJECTED"] as const;

export function Approvals({ role }: { role: string }) {
  const [status, setStatus] = useState<string>("PENDING");
  const list = useLoad(() => call("get", "/v1/approvals", { query: { status, pageSize: 100 } }), [status]);
  // An admin may list the keys: the queue names the agent, not only its key id.
  const keys = useLoad(
    () => (can(role, "manageKeys") ? call("get", "/v1/apiKeys", {}) : Promise.resolve({ keys: [] })),
    [role],
  );
  const keyName = (id: string | undefined) => keys.value?.keys?.find((k) => k.keyId === id)?.name || id;
  const [busy, setBusy] = useState("");
  const [message, setMessage] = useState<{ id: string; text: string; error: boolean } | null>(null);

  const decide = async (a: Defs["v1Approval"], approve: boolean) => {
    const id = a.approvalId ?? "";
    if (busy) return;
    setBusy(id);
    setMessage(null);
    try {
      // Deciding twice is refused by the server, so a double click cannot post twice.
      if (approve) await call("post", "/v1/approvals/{approvalId}:approve", { path: { approvalId: id }, body: {} });
      else await call("post", "/v1/approvals/{approvalId}:reject", { path: { approvalId: id }, body: {} });
      setMessage({ id, text: t(approve ? "approvals.approved" : "approvals.rejected", { id }), error: false });
      list.reload();
    } catch (err) {
      setMessage({ id, text: errorText(err), error: true });
    } finally {
      setBusy("");
    }
  };

  const rows = list.value?.approvals ?? [];
  return (
    <section class="card wide" aria-labelledby="approvals-title">
      <h1 id="approvals-title">{t("approvals.title")}</h1>
      <div class="filters">
        <div>
          <label for="ap-status">{t("approvals.status")}</label>
          <select id="ap-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            {statuses.map((s) => (
              <option value={s}>{tCode("approvalStatus", s)}</option>
            ))}
            <option value="">{t("approvals.all")}</option>
          </select>
        </div>
      </div>
      {message && (
        <p class={message.error ? "error" : "success"} role={message.error ? "alert" : "status"}>
          {message.text}
        </p>
      )}
      {list.error ? (
        <p role="alert">{errorText(list.error)}</p>
      ) : list.value && rows.length === 0 ? (
        <p class="muted">{t("approvals.none")}</p>
      ) : (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="approvals-title">
          <table data-testid="approvals">
            <thead>
              <tr>
                <th scope="col">{t("approvals.requested")}</th>
                <th scope="col">{t("approvals.member")}</th>
                <th scope="col" class="num">{t("approvals.points")}</th>
                <th scope="col">{t("approvals.reason")}</th>
                <th scope="col">{t("approvals.by")}</th>
                <th scope="col">{t("approvals.status")}</th>
                {can(role, "decideApprovals") && <th scope="col">{t("approvals.decide")}</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr data-approval={a.approvalId}>
                  <td>{dateTime(a.createTime)}</td>
                  <td>
                    <a href={href({ name: "member", memberId: a.memberId ?? "" })}>{a.memberId}</a>
                  </td>
                  <td class="num">{points(a.points)}</td>
                  <td>
                    {tCode("reason", a.reasonCode)}
                    {a.ticketId && <span class="muted small"> · {t("statement.ticket", { id: a.ticketId })}</span>}
                    {a.note && (
                      <div class="muted small" translate={false}>
                        {a.note}
                      </div>
                    )}
                  </td>
                  <td translate={false}>{keyName(a.requestedBy)}</td>
                  <td>
                    <span class={`badge status-${(a.status ?? "").toLowerCase()}`}>{tCode("approvalStatus", a.status)}</span>
                  </td>
                  {can(role, "decideApprovals") && (
                    <td class="actions">
                      {a.status === "PENDING" && (
                        <>
                          <button
                            type="button"
                            disabled={busy !== ""}
                            aria-label={t("approvals.approveOne", { id: a.approvalId ?? "" })}
                            onClick={() => decide(a, true)}
                          >
                            {t("approvals.approve")}
                          </button>
                          <button
                            type="button"
                            class="secondary"
                            disabled={busy !== ""}
                            aria-label={t("approvals.rejectOne", { id: a.approvalId ?? "" })}
                            onClick={() => decide(a, false)}
                          >
                            {t("approvals.reject")}
                          </button>
                        </>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
