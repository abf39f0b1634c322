import { call, type Defs } from "../api/client";
import { money, points, t } from "../i18n/i18n";
import type { Loaded } from "../load";
import { refundState } from "../logic";
import { errorText } from "./App";

// The API lists no member's orders; the statement names them. The latest orders
// are those of the latest order entries, read one by one (at most maxOrders).
const maxOrders = 10;
const orderKinds = ["EARN", "REDEEM", "REFUND", "REFUND_RETURN"];

export async function latestOrders(memberId: string): Promise<Defs["v1Order"][]> {
  const activity = await call("get", "/v1/members/{memberId}/activity", {
    path: { memberId },
    query: { kinds: orderKinds, pageSize: 100 },
  });
  const ids: string[] = [];
  for (const e of activity.entries ?? []) {
    if (e.orderId && !ids.includes(e.orderId)) ids.push(e.orderId);
  }
  const orders = await Promise.all(
    ids.slice(0, maxOrders).map((orderId) =>
      call("get", "/v1/members/{memberId}/orders/{orderId}", { path: { memberId, orderId } }),
    ),
  );
  return orders.map((o) => o.order ?? {});
}

export function Orders({ orders, tierName }: { orders: Loaded<Defs["v1Order"][]>; tierName: (id?: string) => string }) {
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
                <th scope="col">{t("orders.spend")}</th>
                <th scope="col" class="num">{t("orders.earned")}</th>
                <th scope="col">{t("orders.tier")}</th>
                <th scope="col">{t("orders.refund")}</th>
              </tr>
            </thead>
            <tbody>
              {(orders.value ?? []).map((o) => (
                <tr>
                  <td>{o.orderId}</td>
                  <td>{o.spend ? money(o.spend.amountMinor, o.spend.currency) : t("orders.spendUnknown")}</td>
                  <td class="num">{points(o.earnedPoints)}</td>
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
