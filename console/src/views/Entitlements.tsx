import { call } from "../api/client";
import { date, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";

// quotaPerks are the perks counted per monthly cycle (api: Entitlement.perk).
const quotaPerks = ["freeReturnPickups", "monthlyCouponAllowance"] as const;

export function Entitlements({ memberId, changed }: { memberId: string; changed: number }) {
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
              <dd>{t("entitlements.left", { left: e.remaining ?? 0, quota: e.quota ?? 0 })}</dd>
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
