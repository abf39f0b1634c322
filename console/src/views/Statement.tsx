import { useEffect, useRef, useState } from "preact/hooks";
import { call, type Defs } from "../api/client";
import { dateTime, points, t, tCode } from "../i18n/i18n";
import { filterQuery, type Filter } from "../logic";
import { errorText } from "./App";

// entryKinds are the kinds of statement entry (api: Entry.kind).
export const entryKinds = [
  "EARN",
  "REDEEM",
  "HOLD",
  "HOLD_CAPTURE",
  "HOLD_VOID",
  "HOLD_EXPIRE",
  "REVERSAL",
  "GOODWILL",
  "PENDING_RELEASE",
  "EXPIRY",
  "REFUND",
  "REFUND_RETURN",
  "CAMPAIGN",
] as const;

const pageSize = 50;

export function Statement({ memberId, changed }: { memberId: string; changed: number }) {
  const [filter, setFilter] = useState<Filter>({ kind: "", from: "", to: "" });
  const [entries, setEntries] = useState<Defs["v1Entry"][]>([]);
  const [next, setNext] = useState<string | null>(null); // null: no more pages
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);
  const sentinel = useRef<HTMLDivElement>(null);

  const load = async (token: string, gen: number) => {
    setLoading(true);
    try {
      const resp = await call("get", "/v1/members/{memberId}/activity", {
        path: { memberId },
        query: { ...filterQuery(filter), pageSize, pageToken: token || undefined },
      });
      if (gen !== generation.current) return; // the filter changed meanwhile
      setEntries((prev) => (token ? [...prev, ...(resp.entries ?? [])] : (resp.entries ?? [])));
      setNext(resp.nextPageToken || null);
      setError(null);
    } catch (err) {
      if (gen === generation.current) setError(err);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  // A new filter, member or change starts from the first page.
  useEffect(() => {
    generation.current++;
    setEntries([]);
    setNext(null);
    void load("", generation.current);
  }, [memberId, changed, filter.kind, filter.from, filter.to]);

  // Infinite scroll: the next page loads when the end of the list comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || next === null || loading) return;
    const obs = new IntersectionObserver((seen) => {
      if (seen.some((s) => s.isIntersecting)) void load(next, generation.current);
    });
    obs.observe(el);
    return () => obs.disconnect();
  }, [next, loading]);

  const set = (name: keyof Filter) => (e: Event) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });

  return (
    <section class="card wide" aria-labelledby="statement-title">
      <h2 id="statement-title">{t("statement.title")}</h2>
      <div class="filters" role="group" aria-label={t("statement.filters")}>
        <div>
          <label for="st-kind">{t("statement.kind")}</label>
          <select id="st-kind" value={filter.kind} onChange={set("kind")}>
            <option value="">{t("statement.allKinds")}</option>
            {entryKinds.map((k) => (
              <option value={k}>{tCode("kind", k)}</option>
            ))}
          </select>
        </div>
        <div>
          <label for="st-from">{t("statement.from")}</label>
          <input id="st-from" type="date" value={filter.from} onChange={set("from")} />
        </div>
        <div>
          <label for="st-to">{t("statement.to")}</label>
          <input id="st-to" type="date" value={filter.to} onChange={set("to")} />
        </div>
      </div>
      {error !== null && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
      <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="statement-title">
        <table data-testid="statement">
          <thead>
            <tr>
              <th scope="col">{t("statement.time")}</th>
              <th scope="col">{t("statement.kind")}</th>
              <th scope="col">{t("statement.detail")}</th>
              <th scope="col" class="num">{t("statement.points")}</th>
              <th scope="col" class="num">{t("statement.balance")}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr>
                <td class="time">{dateTime(e.createTime)}</td>
                <td>
                  <span class="badge">{tCode("kind", e.kind)}</span>
                </td>
                <td>
                  {detail(e)}
                  {e.memo && (
                    <span class="muted" translate={false}>
                      {detail(e) ? " · " : ""}
                      {e.memo}
                    </span>
                  )}
                </td>
                <td class={`num ${Number(e.points ?? 0) < 0 ? "neg" : ""}`}>{signed(e)}</td>
                <td class="num">{points(e.balanceAfter)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!loading && entries.length === 0 && error === null && <p class="muted">{t("statement.none")}</p>}
      <div ref={sentinel} class="sentinel">
        {loading && <p class="muted">{t("common.loading")}</p>}
        {!loading && next !== null && (
          <button type="button" class="secondary" onClick={() => void load(next, generation.current)}>
            {t("statement.more")}
          </button>
        )}
      </div>
    </section>
  );
}

/** signed shows an entry's change of the available balance with its sign; an entry
 * that moves only pending or held points shows that. */
function signed(e: Defs["v1Entry"]): string {
  const n = BigInt(e.points ?? 0);
  if (n !== 0n) return (n > 0n ? "+" : "") + points(e.points);
  const pending = BigInt(e.pendingPoints ?? 0);
  if (pending !== 0n) return t("statement.pendingChange", { points: (pending > 0n ? "+" : "") + points(e.pendingPoints) });
  const held = BigInt(e.heldPoints ?? 0);
  if (held !== 0n) return t("statement.heldChange", { points: (held > 0n ? "+" : "") + points(e.heldPoints) });
  return "0";
}

function detail(e: Defs["v1Entry"]): string {
  const parts: string[] = [];
  if (e.orderId) parts.push(t("statement.order", { id: e.orderId }));
  if (e.reasonCode) parts.push(tCode("reason", e.reasonCode));
  if (e.ticketId) parts.push(t("statement.ticket", { id: e.ticketId }));
  return parts.join(" · ");
}
