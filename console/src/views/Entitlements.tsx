import { useAction } from "../action";
import { call } from "../api/client";
import { date, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";

// quotaPerks are the perks counted per monthly cycle (api: Entitlement.perk).
const quotaPerks = ["freeReturnPickups", "monthlyCouponAllowance"] as const;

export function Entitlements({
  memberId,
  changed,
  canConsume,
  onConsumed,
}: {
  memberId: string;
  changed: number;
  canConsume: boolean;
  onConsumed: () => void;
}) {
  // CheckEntitlement only reads (it is a POST because it may name an order).
  const list = useLoad(
    () =>
      Promise.all(
        quotaPerks.map((perk) =>
          call("post", "/v1/members/{memberId}/entitlements/{perk}:check", { path: { memberId, perk }, body: {} }),
        ),
      ),
    [memberId, changed],
  );
  const consume = useAction<string>(async (perk, requestId) => {
    await call("post", "/v1/members/{memberId}/entitlements/{perk}:consume", { path: { memberId, perk }, body: { requestId } });
    onConsumed();
  });
  return (
    <section class="card" aria-labelledby="ent-title">
      <h2 id="ent-title">{t("entitlements.title")}</h2>
      {list.error ? (
        <p role="alert">{errorText(list.error)}</p>
      ) : (
        <dl class="figures">
          {(list.value ?? []).map((e) => (
            <div>
              <dt>{tCode("perkName", e.perk)}</dt>
              <dd>
                {t("entitlements.left", { left: e.remaining ?? 0, quota: e.quota ?? 0 })}
                {canConsume && (
                  <button
                    type="button"
                    class="secondary small-button"
                    disabled={!e.allowed || consume.busy !== null}
                    aria-label={t("entitlements.useOne", { perk: tCode("perkName", e.perk) })}
                    onClick={() => consume.act(e.perk ?? "")}
                  >
                    {t("entitlements.use")}
                  </button>
                )}
                {consume.error && consume.error.key === e.perk && (
                  <p class="field-error" role="alert">
                    {errorText(consume.error.err)}
                  </p>
                )}
              </dd>
            </div>
          ))}
        </dl>
      )}
      {list.value?.[0]?.cycleEnd && (
        <p class="muted small">{t("entitlements.cycleEnds", { date: date(list.value[0].cycleEnd) })}</p>
      )}
    </section>
  );
}
