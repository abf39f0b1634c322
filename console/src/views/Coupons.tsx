import { useAction } from "../action";
import { call, type Defs } from "../api/client";
import { date, money, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";

/** couponValue says what a coupon takes off an order, in the program's currency. */
function couponValue(c: Defs["v1Coupon"], currency: string | undefined): string {
  switch (c.kind) {
    case "AMOUNT_OFF":
      return t("coupons.amountOff", { amount: money(c.amountOffMinor, currency) });
    case "PERCENT_OFF":
      return t("coupons.percentOff", { percent: c.percentOff ?? 0 });
    default:
      return tCode("couponKind", c.kind);
  }
}

export function Coupons({
  memberId,
  changed,
  canRevoke,
  onRevoked,
}: {
  memberId: string;
  changed: number;
  canRevoke: boolean;
  onRevoked: () => void;
}) {
  const coupons = useLoad(
    () => call("get", "/v1/members/{memberId}/coupons", { path: { memberId }, query: { pageSize: 100 } }),
    [memberId, changed],
  );
  const revoke = useAction<string>(async (code) => {
    if (!confirm(t("coupons.confirmRevoke", { code }))) return;
    await call("post", "/v1/coupons/{code}:revoke", { path: { code }, body: {} });
    onRevoked();
  });
  const program = useLoad(() => call("get", "/v1/program", {}), []);
  const currency = program.value?.program?.currencies?.[0];
  const list = coupons.value?.coupons ?? [];
  return (
    <section class="card wide" aria-labelledby="coupons-title">
      <h2 id="coupons-title">{t("coupons.title")}</h2>
      {coupons.error ? (
        <p role="alert">{errorText(coupons.error)}</p>
      ) : coupons.value && list.length === 0 ? (
        <p class="muted">{t("coupons.none")}</p>
      ) : (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="coupons-title">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("coupons.code")}</th>
                <th scope="col">{t("coupons.value")}</th>
                <th scope="col">{t("coupons.status")}</th>
                <th scope="col">{t("coupons.validUntil")}</th>
                {canRevoke && <th scope="col">{t("coupons.actions")}</th>}
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr>
                  <td>
                    <code>{c.code}</code>
                  </td>
                  <td>{couponValue(c, currency)}</td>
                  <td>
                    <span class={`badge status-${(c.status ?? "").toLowerCase()}`}>{tCode("couponStatus", c.status)}</span>
                  </td>
                  <td>{date(c.validUntil)}</td>
                  {canRevoke && (
                    <td>
                      {c.status === "ISSUED" && (
                        <button
                          type="button"
                          class="secondary small-button"
                          disabled={revoke.busy !== null}
                          aria-label={t("coupons.revokeOne", { code: c.code ?? "" })}
                          onClick={() => revoke.act(c.code ?? "")}
                        >
                          {t("coupons.revoke")}
                        </button>
                      )}
                      {revoke.error && revoke.error.key === c.code && (
                        <p class="field-error" role="alert">
                          {errorText(revoke.error.err)}
                        </p>
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
