import { useEffect, useState } from "preact/hooks";
import { ApiError, call, newRequestId, type Defs } from "../api/client";
import { dateTime, t, tCode, tField } from "../i18n/i18n";
import { useLoad } from "../load";
import { campaignBody, issueMarker, wallTimeToInstant, type CampaignForm } from "../logic";
import { go } from "../route";
import { errorText } from "./App";
import { campaignTypes } from "./Campaigns";
import { reasonCodes } from "./Goodwill";

const couponKinds = ["AMOUNT_OFF", "PERCENT_OFF", "FREE_SHIPPING"] as const;
const zones = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "UTC", "Europe/London", "America/New_York"];

const empty: CampaignForm = {
  displayName: "",
  type: "POINTS_MULTIPLIER",
  multiplierPercent: "200",
  bonusPoints: "",
  couponKind: "",
  amountOffMinor: "",
  percentOff: "",
  minSpendMinor: "",
  validDays: "30",
  eventTypes: [],
  minDelayHours: "",
  compensationPoints: "",
  referrerPoints: "",
  referredPoints: "",
  referralsPerMonth: "",
  startTime: "",
  endTime: "",
  timeZone: "",
  tiers: [],
  rule: "",
  budgetPoints: "",
  budgetCoupons: "",
  capPoints: "",
  capCoupons: "",
};

// The API's field for each form field, so that its errors show next to it.
const apiField: Partial<Record<keyof CampaignForm, string>> = {
  couponKind: "coupon.kind",
  amountOffMinor: "coupon.amountOffMinor",
  percentOff: "coupon.percentOff",
  minSpendMinor: "coupon.minSpendMinor",
  validDays: "coupon.validDays",
  eventTypes: "compensation.eventTypes",
  minDelayHours: "compensation.minDelayHours",
  compensationPoints: "compensation.points",
  referrerPoints: "referral.referrerPoints",
  referredPoints: "referral.referredPoints",
  referralsPerMonth: "referral.caps.perReferrerPerMonth",
  startTime: "schedule.startTime",
  endTime: "schedule.endTime",
  timeZone: "schedule.timeZone",
  rule: "eligibility.rule",
  budgetPoints: "budget.points",
  budgetCoupons: "budget.coupons",
  capPoints: "perMemberCap.points",
  capCoupons: "perMemberCap.coupons",
};

type Issue = Defs["v1RuleIssue"];

// What a rule may use (campaigns/rule.go's facts), and an example: code, not prose.
const ruleFacts =
  "member.tierId, member.memberId, member.joinTime, order.orderId, order.spendMinor, order.currency, event.type, event.delayHours";
const ruleExample = "order.spendMinor >= 10000";

/** useRuleCheck asks the server about the rule as it is typed (a pause of 300 ms),
 * for the campaign's type: the same check a save makes. */
function useRuleCheck(f: CampaignForm): { issues: Issue[]; checked: string } {
  const [state, setState] = useState<{ issues: Issue[]; checked: string }>({ issues: [], checked: "" });
  const key = JSON.stringify([f.rule, f.type, f.tiers, f.eventTypes, f.minDelayHours]);
  useEffect(() => {
    if (!f.rule.trim()) {
      setState({ issues: [], checked: "" });
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      call("post", "/v1/campaigns:checkRule", {
        body: {
          rule: f.rule,
          type: f.type,
          tiers: f.tiers,
          compensation: f.type === "COMPENSATION" ? { eventTypes: f.eventTypes, minDelayHours: Number(f.minDelayHours || 0) } : undefined,
        },
      }).then(
        (r) => current && setState({ issues: r.issues ?? [], checked: f.rule }),
        () => current && setState({ issues: [], checked: "" }),
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [key]);
  return state;
}

export function CampaignBuilder() {
  const program = useLoad(() => call("get", "/v1/program", {}), []);
  const policy = useLoad(() => call("get", "/v1/tierPolicy", {}), []);
  const [f, setF] = useState<CampaignForm>(empty);
  const [requestId, setRequestId] = useState(newRequestId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const rule = useRuleCheck(f);
  const timeZone = f.timeZone || program.value?.program?.timeZone || "UTC";

  const update = (patch: Partial<CampaignForm>) => {
    setF({ ...f, ...patch });
    setRequestId(newRequestId()); // another definition is another intent
  };
  const set = (name: keyof CampaignForm) => (e: Event) => update({ [name]: (e.target as HTMLInputElement).value });
  const toggle = (name: "tiers" | "eventTypes", v: string) => (e: Event) => {
    const on = (e.target as HTMLInputElement).checked;
    update({ [name]: on ? [...f[name], v] : f[name].filter((x) => x !== v) });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const body = campaignBody({ ...f, timeZone }, requestId);
      const c = await call("post", "/v1/campaigns", { body });
      go({ name: "campaign", campaignId: c.campaignId ?? "" });
    } catch (err) {
      setError(err instanceof ApiError && err.fields.length > 0 ? err : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (name: keyof CampaignForm) => {
    if (!(error instanceof ApiError)) return undefined;
    const api = apiField[name] ?? name;
    return tField(error.fieldError(api) ?? error.fields.find((x) => x.field.startsWith(`${api}[`))?.description);
  };
  const field = (name: keyof CampaignForm, extra?: string) => {
    const msg = fieldError(name);
    const described = [msg ? `cb-${name}-error` : "", extra ?? ""].filter(Boolean).join(" ");
    return {
      id: `cb-${name}`,
      value: f[name] as string,
      "aria-invalid": msg ? ("true" as const) : undefined,
      "aria-describedby": described || undefined,
    };
  };
  const errorOf = (name: keyof CampaignForm) => {
    const msg = fieldError(name);
    return msg ? (
      <p id={`cb-${name}-error`} class="field-error">
        {msg}
      </p>
    ) : null;
  };
  const input = (name: keyof CampaignForm, label: string, type = "number") => (
    <div>
      <label for={`cb-${name}`}>{label}</label>
      <input {...field(name)} type={type} min={type === "number" ? "0" : undefined} step="1" onInput={set(name)} />
      {errorOf(name)}
    </div>
  );

  const issuesShown = rule.checked === f.rule && rule.issues.length > 0;
  const ruleInvalid = issuesShown || !!fieldError("rule");
  const start = wallTimeToInstant(f.startTime, timeZone);
  const end = wallTimeToInstant(f.endTime, timeZone);
  const coupons = f.type === "COUPON_DROP" || f.type === "COMPENSATION";
  const pts = f.type !== "COUPON_DROP";

  return (
    <form class="card wide builder" onSubmit={submit} aria-labelledby="cb-title" noValidate>
      <h1 id="cb-title">{t("builder.title")}</h1>
      <fieldset>
        <legend>{t("builder.what")}</legend>
        <div class="fields">
          <div class="span2">
            <label for="cb-displayName">{t("builder.name")}</label>
            <input {...field("displayName")} required autocomplete="off" onInput={set("displayName")} />
            {errorOf("displayName")}
          </div>
          <div>
            <label for="cb-type">{t("builder.type")}</label>
            <select {...field("type")} onChange={set("type")}>
              {campaignTypes.map((c) => (
                <option value={c}>{tCode("campaignType", c)}</option>
              ))}
            </select>
          </div>
          {f.type === "POINTS_MULTIPLIER" && input("multiplierPercent", t("builder.multiplierPercent"))}
          {f.type === "POINTS_BONUS" && input("bonusPoints", t("builder.bonusPoints"))}
          {f.type === "COMPENSATION" && input("compensationPoints", t("builder.compensationPoints"))}
          {f.type === "COMPENSATION" && input("minDelayHours", t("builder.minDelayHours"))}
          {f.type === "REFERRAL" && input("referrerPoints", t("builder.referrerPoints"))}
          {f.type === "REFERRAL" && input("referredPoints", t("builder.referredPoints"))}
          {f.type === "REFERRAL" && input("referralsPerMonth", t("builder.referralsPerMonth"))}
        </div>
        <p class="hint small">{tCode("campaignTypeHelp", f.type)}</p>
        {f.type === "COMPENSATION" && (
          <fieldset class="checks" aria-describedby={fieldError("eventTypes") ? "cb-eventTypes-error" : undefined}>
            <legend>{t("builder.eventTypes")}</legend>
            {reasonCodes.map((c) => (
              <label class="check">
                <input type="checkbox" checked={f.eventTypes.includes(c)} onChange={toggle("eventTypes", c)} />
                {tCode("reason", c)}
              </label>
            ))}
            {errorOf("eventTypes")}
          </fieldset>
        )}
      </fieldset>

      {coupons && (
        <fieldset>
          <legend>{t("builder.coupon")}</legend>
          <div class="fields">
            <div>
              <label for="cb-couponKind">{t("builder.couponKind")}</label>
              <select {...field("couponKind")} onChange={set("couponKind")}>
                <option value="">{f.type === "COMPENSATION" ? t("builder.noCoupon") : t("builder.chooseKind")}</option>
                {couponKinds.map((k) => (
                  <option value={k}>{tCode("couponKind", k)}</option>
                ))}
              </select>
              {errorOf("couponKind")}
            </div>
            {f.couponKind === "AMOUNT_OFF" && input("amountOffMinor", t("builder.amountOffMinor"))}
            {f.couponKind === "PERCENT_OFF" && input("percentOff", t("builder.percentOff"))}
            {f.couponKind && input("minSpendMinor", t("builder.minSpendMinor"))}
            {f.couponKind && input("validDays", t("builder.validDays"))}
          </div>
        </fieldset>
      )}

      <fieldset>
        <legend>{t("builder.when")}</legend>
        <div class="fields">
          {input("startTime", t("builder.start"), "datetime-local")}
          {input("endTime", t("builder.end"), "datetime-local")}
          <div>
            <label for="cb-timeZone">{t("builder.timeZone")}</label>
            <input {...field("timeZone")} value={timeZone} list="cb-zones" autocomplete="off" onInput={set("timeZone")} />
            <datalist id="cb-zones">
              {zones.map((z) => (
                <option value={z} />
              ))}
            </datalist>
            {errorOf("timeZone")}
          </div>
        </div>
        <p class="hint small" data-testid="your-time">
          {start || end
            ? t("builder.inYourTime", {
                start: start ? dateTime(start.toISOString()) : t("builder.fromActivation"),
                end: end ? dateTime(end.toISOString()) : t("builder.untilEnded"),
              })
            : t("builder.noSchedule")}
        </p>
      </fieldset>

      <fieldset>
        <legend>{t("builder.who")}</legend>
        {(policy.value?.tiers ?? []).length > 0 && (
          <fieldset class="checks">
            <legend>{t("builder.tiers")}</legend>
            {(policy.value?.tiers ?? []).map((tier) => (
              <label class="check">
                <input type="checkbox" checked={f.tiers.includes(tier.id ?? "")} onChange={toggle("tiers", tier.id ?? "")} />
                <span translate={false}>{tier.displayName || tier.id}</span>
              </label>
            ))}
          </fieldset>
        )}
        <label for="cb-rule">{t("builder.rule")}</label>
        <textarea
          {...field("rule", "cb-rule-help")}
          aria-invalid={ruleInvalid ? "true" : undefined}
          aria-describedby={[issuesShown ? "cb-rule-issues" : "", fieldError("rule") ? "cb-rule-error" : "", "cb-rule-help"]
            .filter(Boolean)
            .join(" ")}
          class="code"
          rows={3}
          spellcheck={false}
          autocomplete="off"
          onInput={set("rule")}
        />
        <p id="cb-rule-help" class="hint small">
          {t("builder.ruleHelp")}{" "}
          <code translate={false}>{ruleFacts}</code>. {t("builder.ruleExample")} <code translate={false}>{ruleExample}</code>
        </p>
        {issuesShown && (
          <div id="cb-rule-issues" class="rule-issues" role="alert" data-testid="rule-issues">
            {rule.issues.map((i) => {
              const mark = issueMarker(f.rule, i.line ?? 0, i.column ?? 0);
              return (
                <div class="rule-issue">
                  <p class="field-error">
                    {mark ? t("builder.issueAt", { line: i.line ?? 0, column: i.column ?? 0 }) : t("builder.issue")}{" "}
                    <span translate={false}>{i.message}</span>
                  </p>
                  {mark && (
                    <pre class="marker" aria-hidden="true" translate={false}>
                      {mark.text}
                      {"\n"}
                      {mark.caret}
                    </pre>
                  )}
                </div>
              );
            })}
          </div>
        )}
        {!issuesShown && rule.checked && rule.checked === f.rule && (
          <p class="success small" role="status" data-testid="rule-ok">
            {t("builder.ruleOk")}
          </p>
        )}
        {!issuesShown && errorOf("rule")}
      </fieldset>

      <fieldset>
        <legend>{t("builder.limits")}</legend>
        <div class="fields">
          {pts && input("budgetPoints", t("builder.budgetPoints"))}
          {coupons && input("budgetCoupons", t("builder.budgetCoupons"))}
          {pts && input("capPoints", t("builder.capPoints"))}
          {coupons && input("capCoupons", t("builder.capCoupons"))}
        </div>
        <p class="hint small">{t("builder.limitsHelp")}</p>
      </fieldset>

      {typeof error === "string" && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {error instanceof ApiError && (
        <p class="error" role="alert">
          {t("builder.fixFields")}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? t("common.sending") : t("builder.save")}
      </button>
    </form>
  );
}
