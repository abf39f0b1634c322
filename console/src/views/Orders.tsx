import { call, type Defs } from "../api/client";
import { date, money, points, t } from "../i18n/i18n";
import type { Loaded } from "../load";
import { campaignLines, refundState } from "../logic";
import { errorText } from "./App";

// The member page shows the latest orders (ListOrders, newest first).
const maxOrders = 20;

/** MemberOrder is an order and what campaigns gave on its earning. */
export type MemberOrder = Defs["v1Order"] & { campaigns: { campaignId: string; points: number }[] };

export async function latestOrders(memberId: string): Promise<MemberOrder[]> {
  const [list, earnings] = await Promise.all([
    call("get", "/v1/members/{memberId}/orders", { path: { memberId }, query: { pageSize: maxOrders } }),
    // An order's campaign lines are the campaign postings of its earning entry,
    // which the statement holds.
    call("get", "/v1/members/{memberId}/activity", { path: { memberId }, query: { kinds: ["EARN"], pageSize: 100 } }),
  ]);
  const entries = earnings.entries ?? [];
  return (list.orders ?? []).map((order) => {
    const earn = entries.find((e) => e.entryId === order.earnEntryId);
    return { ...order, campaigns: campaignLines(earn?.postings) };
  });
}

export function Orders({
  orders,
  tierName,
  campaignName,
}: {
  orders: Loaded<MemberOrder[]>;
  tierName: (id?: string) => string;
  campaignName: (id: string) => string;
}) {
  return (
    <section class="card wide" aria-labelledby="orders-title">
      <h2 id="orders-title">{t("orders.title")}</h2>
      {orders.error ? (
        <p role="alert">{errorText(orders.error)}</p>
      ) : orders.value?.length === 0 ? (
        <p class="muted">{t("orders.none")}</p>
      ) : (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="orders-title">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("orders.order")}</th>
                <th scope="col">{t("orders.date")}</th>
                <th scope="col">{t("orders.spend")}</th>
                <th scope="col" class="num">{t("orders.earned")}</th>
                <th scope="col" class="num">{t("orders.pending")}</th>
                <th scope="col">{t("orders.campaigns")}</th>
                <th scope="col">{t("orders.tier")}</th>
                <th scope="col">{t("orders.refund")}</th>
              </tr>
            </thead>
            <tbody>
              {(orders.value ?? []).map((o) => (
                <tr>
                  <td translate={false}>{o.orderId}</td>
                  <td>{o.createTime ? date(o.createTime) : ""}</td>
                  <td>{o.spend ? money(o.spend.amountMinor, o.spend.currency) : t("orders.spendUnknown")}</td>
                  <td class="num">{points(o.earnedPoints)}</td>
                  <td class="num" data-testid="order-pending">{points(o.pointsPending)}</td>
                  <td data-testid="order-campaigns">
                    {o.campaigns.map((c) => (
                      <span class="budget-line">
                        <span translate={false}>{campaignName(c.campaignId)}</span>{" "}
                        {t("orders.campaignPoints", { points: points(c.points) })}
                      </span>
                    ))}
                  </td>
                  <td translate={false}>{tierName(o.tierId)}</td>
                  <td>
                    <span class={`badge refund-${refundState(o)}`}>{t(`orders.refund.${refundState(o)}`)}</span>
                    {refundState(o) !== "none" && (
                      <span class="muted small">
                        {" "}
                        {t("orders.refundDetail", {
                          refunded: o.spend ? money(o.refundedMinor, o.spend.currency) : "-",
                          taken: points(o.pointsTakenBack),
                          returned: points(o.pointsReturned),
                        })}
                      </span>
                    )}
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
