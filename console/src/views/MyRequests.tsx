import { call } from "../api/client";
import { dateTime, points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { href } from "../route";
import { errorText } from "./App";

// The latest of the agent's own requests (ListOwnApprovals): the server answers
// only the signed-in key's, waiting or decided.
const shown = 10;

/** MyRequests is an agent's goodwill grants that were above its limits, and what
 * a supervisor decided. */
export function MyRequests({ changed }: { changed: number }) {
  const list = useLoad(() => call("get", "/v1/apiKeys/self/approvals", { query: { pageSize: shown } }), [changed]);
  const rows = list.value?.approvals ?? [];
  return (
    <section class="card" aria-labelledby="my-requests-title">
      <h2 id="my-requests-title">{t("myRequests.title")}</h2>
      {list.error ? (
        <p role="alert">{errorText(list.error)}</p>
      ) : list.value && rows.length === 0 ? (
        <p class="muted">{t("myRequests.none")}</p>
      ) : (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="my-requests-title">
          <table data-testid="my-requests">
            <thead>
              <tr>
                <th scope="col">{t("approvals.requested")}</th>
                <th scope="col">{t("approvals.member")}</th>
                <th scope="col" class="num">{t("approvals.points")}</th>
                <th scope="col">{t("approvals.status")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr data-approval={a.approvalId}>
                  <td>{dateTime(a.createTime)}</td>
                  <td>
                    <a href={href({ name: "member", memberId: a.memberId ?? "" })} translate={false}>
                      {a.memberId}
                    </a>
                  </td>
                  <td class="num">{points(a.points)}</td>
                  <td>
                    <span class={`badge status-${(a.status ?? "").toLowerCase()}`}>{tCode("approvalStatus", a.status)}</span>
                    {a.decideTime && <span class="muted small"> {dateTime(a.decideTime)}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
