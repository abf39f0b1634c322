import { useEffect, useState } from "preact/hooks";
import { ApiError, call, type Defs } from "../api/client";
import { dateTime, t, tCode, tField, type Key } from "../i18n/i18n";
import { useLoad } from "../load";
import { fieldDomId, newTier, policyBody, programBody, programForm, splitList, unplaced, type ProgramForm } from "../logic";
import { errorText } from "./App";
import { fieldMessage, invalid, Labelled } from "./Field";

const expiryKinds = ["END_OF_FOLLOWING_YEAR", "ROLLING_DAYS"] as const;
const metrics = ["QUALIFYING_POINTS", "QUALIFYING_SPEND"] as const;
const sources = ["BASE", "TIER", "EXPLICIT", "GOODWILL", "CAMPAIGN"] as const;
const priorities = ["STANDARD", "PRIORITY", "VIP"] as const;
const refundModes = ["STANDARD", "FAST", "INSTANT"] as const;

/** Settings is the admin's editors of the program settings and of the tier policy.
 * Each save replaces the whole object as a new version; the server checks it and
 * names every field it refuses, which the form shows next to that field. */
export function Settings() {
  return (
    <>
      <ProgramEditor />
      <TierPolicyEditor />
    </>
  );
}

/** Unplaced says the violations no field of the form shows, and any other error. */
function Unplaced({ error, placed }: { error: unknown; placed: string[] }) {
  if (error === null || error === undefined) return null;
  if (!(error instanceof ApiError) || error.fields.length === 0)
    return (
      <p class="error" role="alert">
        {errorText(error)}
      </p>
    );
  const rest = unplaced(error.fields, placed);
  return (
    <div class="error" role="alert">
      <p class="plain">{t("form.refused")}</p>
      {rest.length > 0 && (
        <ul>
          {rest.map((f) => (
            <li>
              <code>{f.field}</code> {tField(f.description)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const programFields: (keyof ProgramForm)[] = [
  "earnPoints",
  "earnPerAmountMinor",
  "pointsPerUnit",
  "returnWindowDays",
  "expiryKind",
  "expiryDays",
  "currencies",
  "timeZone",
  "expiryReminderDays",
];
// The API's name of each field of the form.
const apiName: Record<keyof ProgramForm, string> = {
  earnPoints: "earnPoints",
  earnPerAmountMinor: "earnPerAmountMinor",
  pointsPerUnit: "pointsPerUnit",
  returnWindowDays: "returnWindowDays",
  expiryKind: "expiry.kind",
  expiryDays: "expiry.days",
  currencies: "currencies",
  timeZone: "timeZone",
  expiryReminderDays: "expiryReminderDays",
};

function ProgramEditor() {
  const loaded = useLoad(() => call("get", "/v1/program", {}), []);
  const [form, setForm] = useState<ProgramForm | null>(null);
  const [version, setVersion] = useState<{ version?: string; updateTime?: string }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  useEffect(() => {
    const p = loaded.value?.program;
    if (p) {
      setForm(programForm(p));
      setVersion({ version: p.version, updateTime: p.updateTime });
    }
  }, [loaded.value]);
  if (loaded.error) return <p role="alert">{errorText(loaded.error)}</p>;
  if (!form) return <p class="loading">{t("common.loading")}</p>;

  const set = (name: keyof ProgramForm) => (e: Event) => {
    setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
    setSaved("");
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const resp = await call("put", "/v1/program", { body: programBody(form) });
      const p = resp.program ?? {};
      setForm(programForm(p));
      setVersion({ version: p.version, updateTime: p.updateTime });
      setSaved(t("settings.saved", { version: p.version ?? "" }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const input = (name: keyof ProgramForm, extra: Record<string, unknown> = {}) => {
    const id = fieldDomId("pg", apiName[name]);
    const msg = fieldMessage(error, apiName[name]);
    return (
      <Labelled id={id} label={t(`program.${name}` as Key)} msg={msg}>
        <input {...invalid(id, msg)} value={form[name]} autocomplete="off" onInput={set(name)} {...extra} />
      </Labelled>
    );
  };
  const kindId = fieldDomId("pg", "expiry.kind");
  const kindMsg = fieldMessage(error, "expiry.kind");
  return (
    <form class="card wide" onSubmit={submit} aria-labelledby="program-title" noValidate>
      <h1 id="program-title">{t("program.title")}</h1>
      <p class="muted small">
        {t("settings.version", { version: version.version ?? "0", time: dateTime(version.updateTime) })} · {t("program.appliesTo")}
      </p>
      <div class="form-grid">
        {input("earnPoints", { inputMode: "numeric" })}
        {input("earnPerAmountMinor", { inputMode: "numeric" })}
        {input("pointsPerUnit", { inputMode: "numeric" })}
        {input("returnWindowDays", { inputMode: "numeric" })}
        <Labelled id={kindId} label={t("program.expiryKind")} msg={kindMsg}>
          <select {...invalid(kindId, kindMsg)} value={form.expiryKind} onChange={set("expiryKind")}>
            {expiryKinds.map((k) => (
              <option value={k}>{tCode("expiryKind", k)}</option>
            ))}
          </select>
        </Labelled>
        {form.expiryKind === "ROLLING_DAYS" && input("expiryDays", { inputMode: "numeric" })}
        {input("currencies")}
        {input("timeZone")}
        {input("expiryReminderDays")}
      </div>
      <p class="muted small">{t("program.listsHint")}</p>
      <Unplaced error={error} placed={programFields.map((f) => apiName[f])} />
      {saved && (
        <p class="success" role="status" data-testid="program-saved">
          {saved}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? t("common.sending") : t("program.save")}
      </button>
    </form>
  );
}

type Policy = Defs["v1TierPolicy"];
type Tier = Defs["v1Tier"];
type Perks = Defs["v1Perks"];

// The numeric perks, with the API's name and whether the value is an int64 (sent as
// a string).
const numericPerks: { name: keyof Perks; int64: boolean }[] = [
  { name: "earnMultiplierPercent", int64: false },
  { name: "supportResponseHours", int64: false },
  { name: "instantRefundLimitMinor", int64: true },
  { name: "birthdayBonusPoints", int64: true },
  { name: "monthlyCouponAllowance", int64: false },
  { name: "freeReturnPickups", int64: false },
];

function TierPolicyEditor() {
  const loaded = useLoad(() => call("get", "/v1/tierPolicy", {}), []);
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [reminders, setReminders] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const take = (p: Policy) => {
    setPolicy(p);
    setReminders((p.downgradeReminderDays ?? []).join(", "));
  };
  useEffect(() => {
    if (loaded.value) take(loaded.value);
  }, [loaded.value]);
  if (loaded.error) return <p role="alert">{errorText(loaded.error)}</p>;
  if (!policy) return <p class="loading">{t("common.loading")}</p>;

  const tiers = policy.tiers ?? [];
  const edit = (p: Policy) => {
    setPolicy(p);
    setSaved("");
  };
  const editTier = (i: number, tier: Tier) => edit({ ...policy, tiers: tiers.map((x, j) => (j === i ? tier : x)) });
  const num = (v: string) => (v.trim() === "" ? 0 : Number(v));
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const body = policyBody({ ...policy, downgradeReminderDays: splitList(reminders).map((d) => (/^\d+$/.test(d) ? Number(d) : 0)) });
      const p = await call("put", "/v1/tierPolicy", { body });
      take(p);
      setSaved(t("settings.saved", { version: p.version ?? "" }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const placed = ["metric", "windowDays", "periodDays", "graceDays", "oneDown", "qualifyingSources", "downgradeReminderDays", "tiers"];
  tiers.forEach((_, i) => {
    for (const f of ["id", "displayName", "threshold", "perks.supportPriority", "perks.refundMode", "perks.freeReturnShipping"])
      placed.push(`tiers[${i}].${f}`);
    for (const p of numericPerks) placed.push(`tiers[${i}].perks.${p.name}`);
  });
  const numberField = (name: "windowDays" | "periodDays" | "graceDays") => {
    const id = fieldDomId("tp", name);
    const msg = fieldMessage(error, name);
    return (
      <Labelled id={id} label={t(`tierPolicy.${name}` as Key)} msg={msg}>
        <input
          {...invalid(id, msg)}
          inputMode="numeric"
          autocomplete="off"
          value={String(policy[name] ?? 0)}
          onInput={(e) => edit({ ...policy, [name]: num((e.target as HTMLInputElement).value) })}
        />
      </Labelled>
    );
  };
  const metricId = fieldDomId("tp", "metric");
  const metricMsg = fieldMessage(error, "metric");
  const remindersId = fieldDomId("tp", "downgradeReminderDays");
  const remindersMsg = fieldMessage(error, "downgradeReminderDays");
  const sourcesMsg = fieldMessage(error, "qualifyingSources");
  const tiersMsg = fieldMessage(error, "tiers");
  return (
    <form class="card wide" onSubmit={submit} aria-labelledby="tp-title" noValidate>
      <h1 id="tp-title">{t("tierPolicy.title")}</h1>
      <p class="muted small">
        {policy.version && policy.version !== "0"
          ? t("settings.version", { version: policy.version, time: dateTime(policy.updateTime) })
          : t("settings.default")}{" "}
        · {t("tierPolicy.appliesTo")}
      </p>
      <div class="form-grid">
        <Labelled id={metricId} label={t("tierPolicy.metric")} msg={metricMsg}>
          <select {...invalid(metricId, metricMsg)} value={policy.metric} onChange={(e) => edit({ ...policy, metric: (e.target as HTMLSelectElement).value })}>
            {metrics.map((m) => (
              <option value={m}>{tCode("metric", m)}</option>
            ))}
          </select>
        </Labelled>
        {numberField("windowDays")}
        {numberField("periodDays")}
        {numberField("graceDays")}
        <Labelled id={remindersId} label={t("tierPolicy.downgradeReminderDays")} msg={remindersMsg}>
          <input
            {...invalid(remindersId, remindersMsg)}
            autocomplete="off"
            value={reminders}
            onInput={(e) => {
              setReminders((e.target as HTMLInputElement).value);
              setSaved("");
            }}
          />
        </Labelled>
        <div class="field check">
          <input
            type="checkbox"
            id="tp-oneDown"
            checked={policy.oneDown ?? false}
            onChange={(e) => edit({ ...policy, oneDown: (e.target as HTMLInputElement).checked })}
          />
          <label for="tp-oneDown">{t("tierPolicy.oneDown")}</label>
        </div>
      </div>
      <fieldset class="checks" aria-describedby={sourcesMsg ? "tp-qualifyingSources-error" : undefined}>
        <legend>{t("tierPolicy.qualifyingSources")}</legend>
        {sources.map((s) => (
          <span class="check">
            <input
              type="checkbox"
              id={`tp-source-${s}`}
              checked={(policy.qualifyingSources ?? []).includes(s)}
              onChange={(e) => {
                const on = (e.target as HTMLInputElement).checked;
                const rest = (policy.qualifyingSources ?? []).filter((x) => x !== s);
                edit({ ...policy, qualifyingSources: on ? [...rest, s] : rest });
              }}
            />
            <label for={`tp-source-${s}`}>{tCode("source", s)}</label>
          </span>
        ))}
        {sourcesMsg && (
          <p id="tp-qualifyingSources-error" class="field-error">
            {sourcesMsg}
          </p>
        )}
      </fieldset>
      <h2>{t("tierPolicy.tiers")}</h2>
      {tiersMsg && <p class="field-error">{tiersMsg}</p>}
      {tiers.map((tier, i) => (
        <TierFields
          index={i}
          tier={tier}
          error={error}
          onChange={(x) => editTier(i, x)}
          onRemove={tiers.length > 1 ? () => edit({ ...policy, tiers: tiers.filter((_, j) => j !== i) }) : undefined}
        />
      ))}
      <button type="button" class="secondary" onClick={() => edit({ ...policy, tiers: [...tiers, newTier(tiers)] })}>
        {t("tierPolicy.addTier")}
      </button>
      <Unplaced error={error} placed={placed} />
      {saved && (
        <p class="success" role="status" data-testid="policy-saved">
          {saved}
        </p>
      )}
      <div>
        <button type="submit" disabled={busy}>
          {busy ? t("common.sending") : t("tierPolicy.save")}
        </button>
      </div>
    </form>
  );
}

function TierFields({
  index,
  tier,
  error,
  onChange,
  onRemove,
}: {
  index: number;
  tier: Tier;
  error: unknown;
  onChange: (t: Tier) => void;
  onRemove?: () => void;
}) {
  const perks = tier.perks ?? {};
  const at = (f: string) => `tiers[${index}].${f}`;
  const text = (name: "id" | "displayName" | "threshold") => {
    const id = fieldDomId("tp", at(name));
    const msg = fieldMessage(error, at(name));
    return (
      <Labelled id={id} label={t(`tier.${name}` as Key)} msg={msg}>
        <input
          {...invalid(id, msg)}
          autocomplete="off"
          inputMode={name === "threshold" ? "numeric" : undefined}
          value={String(tier[name] ?? "")}
          onInput={(e) => onChange({ ...tier, [name]: (e.target as HTMLInputElement).value })}
        />
      </Labelled>
    );
  };
  const choice = (name: "supportPriority" | "refundMode", codes: readonly string[], prefix: string) => {
    const id = fieldDomId("tp", at(`perks.${name}`));
    const msg = fieldMessage(error, at(`perks.${name}`));
    return (
      <Labelled id={id} label={t(`tier.${name}` as Key)} msg={msg}>
        <select
          {...invalid(id, msg)}
          value={perks[name]}
          onChange={(e) => onChange({ ...tier, perks: { ...perks, [name]: (e.target as HTMLSelectElement).value } })}
        >
          {codes.map((c) => (
            <option value={c}>{tCode(prefix, c)}</option>
          ))}
        </select>
      </Labelled>
    );
  };
  const shippingId = fieldDomId("tp", at("perks.freeReturnShipping"));
  return (
    <fieldset class="tier" data-testid={`tier-${index}`}>
      <legend>{t("tierPolicy.tierN", { n: index + 1 })}</legend>
      <div class="form-grid">
        {text("id")}
        {text("displayName")}
        {text("threshold")}
        {choice("supportPriority", priorities, "priority")}
        {choice("refundMode", refundModes, "refundMode")}
        {numericPerks.map(({ name, int64 }) => {
          const id = fieldDomId("tp", at(`perks.${name}`));
          const msg = fieldMessage(error, at(`perks.${name}`));
          return (
            <Labelled id={id} label={t(`tier.${name}` as Key)} msg={msg}>
              <input
                {...invalid(id, msg)}
                inputMode="numeric"
                autocomplete="off"
                value={String(perks[name] ?? 0)}
                onInput={(e) => {
                  const v = (e.target as HTMLInputElement).value.trim();
                  onChange({ ...tier, perks: { ...perks, [name]: int64 ? v || "0" : v === "" ? 0 : Number(v) } });
                }}
              />
            </Labelled>
          );
        })}
        <div class="field check">
          <input
            type="checkbox"
            id={shippingId}
            checked={perks.freeReturnShipping ?? false}
            onChange={(e) => onChange({ ...tier, perks: { ...perks, freeReturnShipping: (e.target as HTMLInputElement).checked } })}
          />
          <label for={shippingId}>{t("tier.freeReturnShipping")}</label>
        </div>
      </div>
      {onRemove && (
        <button type="button" class="secondary small-button" onClick={onRemove}>
          {t("tierPolicy.removeTierN", { n: index + 1 })}
        </button>
      )}
    </fieldset>
  );
}
