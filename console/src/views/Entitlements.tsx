import { useAction } from "../action";
import { call } from "../api/client";
import { date, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";

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
  // Every quota perk the member's tier gives, with its cycle (ListEntitlements).
  const list = useLoad(
    () => call("get", "/v1/members/{memberId}/entitlements", { path: { memberId } }).then((r) => r.entitlements ?? []),
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
      ) : list.value?.length === 0 ? (
        <p class="muted">{t("entitlements.none")}</p>
      ) : (
        <dl class="figures" data-testid="entitlements">
          {(list.value ?? []).map((e) => (
            <div>
              <dt>{tCode("perkName", e.perk)}</dt>
              <dd>
                <span data-perk={e.perk}>{t("entitlements.left", { left: e.remaining ?? 0, quota: e.quota ?? 0 })}</span>
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
