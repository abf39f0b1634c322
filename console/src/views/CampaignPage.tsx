import { useState } from "preact/hooks";
import { ApiError, call, type Defs } from "../api/client";
import { money, points, t, tCode, tField } from "../i18n/i18n";
import { useAction } from "../action";
import { useLoad } from "../load";
import { burnDown, dayIn } from "../logic";
import { can } from "../roles";
import { href } from "../route";
import { errorText } from "./App";
import { Budget, Schedule, StatusBadge } from "./Campaigns";
import { LineChart } from "./Chart";
import { reasonCodes } from "./Goodwill";

type Campaign = Defs["v1Campaign"];

export function CampaignPage({ campaignId, role }: { campaignId: string; role: string }) {
  const [changed, setChanged] = useState(0);
  const campaign = useLoad(() => call("get", "/v1/campaigns/{campaignId}", { path: { campaignId } }), [campaignId, changed]);
  const stats = useLoad(() => call("get", "/v1/campaigns/{campaignId}/stats", { path: { campaignId } }), [campaignId, changed]);
  if (campaign.error) {
    return (
      <section class="card narrow">
        <p role="alert">{errorText(campaign.error)}</p>
        <a href={href({ name: "campaigns" })}>{t("campaign.back")}</a>
      </section>
    );
  }
  const c = campaign.value;
  if (!c) return <p class="loading">{t("common.loading")}</p>;
  const manage = can(role, "manageCampaigns");
  return (
    <div class="campaign">
      <header class="member-head">
        <h1>
          <span translate={false}>{c.displayName}</span> <span class="muted">{c.campaignId}</span>
        </h1>
        <StatusBadge status={c.status} />
        <a href={href({ name: "campaigns" })}>{t("campaign.back")}</a>
      </header>
      <div class="grid">
        <section class="card" aria-labelledby="cp-def">
          <h2 id="cp-def">{t("campaign.definition")}</h2>
          <Definition c={c} />
          {manage && <Lifecycle c={c} onChanged={() => setChanged((n) => n + 1)} />}
        </section>
        <section class="card" aria-labelledby="cp-budget">
          <h2 id="cp-budget">{t("campaign.budget")}</h2>
          <p>
            <Budget c={c} />
          </p>
          <p data-testid="grants">{t("campaign.grants", { n: points(c.grants) })}</p>
          {stats.error && <p role="alert">{errorText(stats.error)}</p>}
          {stats.value && <Coupons c={c} s={stats.value} />}
        </section>
        {manage && <Simulate c={c} />}
      </div>
      {stats.value && <BurnDown c={c} s={stats.value} />}
    </div>
  );
}

function Definition({ c }: { c: Campaign }) {
  return (
    <dl class="facts">
      <dt>{t("campaigns.type")}</dt>
      <dd>{tCode("campaignType", c.type)}</dd>
      {c.type === "POINTS_MULTIPLIER" && (
        <>
          <dt>{t("builder.multiplierPercent")}</dt>
          <dd>{t("campaign.percent", { n: c.multiplierPercent ?? 0 })}</dd>
        </>
      )}
      {c.type === "POINTS_BONUS" && (
        <>
          <dt>{t("builder.bonusPoints")}</dt>
          <dd>{points(c.bonusPoints)}</dd>
        </>
      )}
      {c.compensation && (
        <>
          <dt>{t("builder.eventTypes")}</dt>
          <dd>{(c.compensation.eventTypes ?? []).map((e) => tCode("reason", e)).join(", ")}</dd>
          <dt>{t("builder.compensationPoints")}</dt>
          <dd>{points(c.compensation.points)}</dd>
        </>
      )}
      {c.type === "REFERRAL" && c.referral && (
        <>
          <dt>{t("builder.referrerPoints")}</dt>
          <dd>{points(c.referral.referrerPoints)}</dd>
          <dt>{t("builder.referredPoints")}</dt>
          <dd>{points(c.referral.referredPoints)}</dd>
          <dt>{t("builder.referralsPerMonth")}</dt>
          <dd>{c.referral.caps?.perReferrerPerMonth ?? 0}</dd>
        </>
      )}
      {c.coupon && (
        <>
          <dt>{t("builder.coupon")}</dt>
          <dd>
            {tCode("couponKind", c.coupon.kind)}
            {c.coupon.kind === "AMOUNT_OFF" && ` · ${points(c.coupon.amountOffMinor)}`}
            {c.coupon.kind === "PERCENT_OFF" && ` · ${c.coupon.percentOff ?? 0}%`}
            {` · ${t("campaign.validDays", { n: c.coupon.validDays ?? 0 })}`}
          </dd>
        </>
      )}
      <dt>{t("campaigns.schedule")}</dt>
      <dd>
        <Schedule c={c} />
      </dd>
      <dt>{t("builder.rule")}</dt>
      <dd>
        {c.eligibility?.rule ? (
          <code translate={false} data-testid="rule">
            {c.eligibility.rule}
          </code>
        ) : (
          <span class="muted">{t("campaign.everyone")}</span>
        )}
      </dd>
      {c.eligibility?.tiers && c.eligibility.tiers.length > 0 && (
        <>
          <dt>{t("builder.tiers")}</dt>
          <dd translate={false}>{c.eligibility.tiers.join(", ")}</dd>
        </>
      )}
    </dl>
  );
}

/** Lifecycle offers what the campaign's status allows: activate a draft or a paused
 * campaign, pause a scheduled or active one, end any that has not ended. The verbs
 * are idempotent on the server (activating an active campaign answers it as it is),
 * so they carry no requestId; useAction still lets one run at a time. */
function Lifecycle({ c, onChanged }: { c: Campaign; onChanged: () => void }) {
  const id = c.campaignId ?? "";
  const { act, busy, error } = useAction<"activate" | "pause" | "end">(async (verb) => {
    if (verb === "activate") await call("post", "/v1/campaigns/{campaignId}:activate", { path: { campaignId: id }, body: {} });
    if (verb === "pause") await call("post", "/v1/campaigns/{campaignId}:pause", { path: { campaignId: id }, body: {} });
    if (verb === "end") await call("post", "/v1/campaigns/{campaignId}:end", { path: { campaignId: id }, body: {} });
    onChanged();
  });
  const s = c.status ?? "";
  return (
    <div class="actions-row">
      {(s === "DRAFT" || s === "PAUSED") && (
        <button type="button" disabled={busy !== null} onClick={() => act("activate")}>
          {t("campaign.activate")}
        </button>
      )}
      {(s === "SCHEDULED" || s === "ACTIVE") && (
        <button type="button" class="secondary" disabled={busy !== null} onClick={() => act("pause")}>
          {t("campaign.pause")}
        </button>
      )}
      {s !== "ENDED" && (
        <button
          type="button"
          class="secondary"
          disabled={busy !== null}
          onClick={() => confirm(t("campaign.confirmEnd")) && act("end")}
        >
          {t("campaign.end")}
        </button>
      )}
      {error && (
        <p class="error" role="alert">
          {errorText(error.err)}
        </p>
      )}
    </div>
  );
}

function Coupons({ c, s }: { c: Campaign; s: Defs["v1GetCampaignStatsResponse"] }) {
  if (c.type !== "COUPON_DROP" && c.type !== "COMPENSATION") return null;
  return (
    <dl class="figures" data-testid="coupon-stats">
      <div>
        <dt>{t("campaign.couponsIssued")}</dt>
        <dd>{points(s.couponsIssued)}</dd>
      </div>
      <div>
        <dt>{t("campaign.couponsRedeemed")}</dt>
        <dd>{points(s.couponsRedeemed)}</dd>
      </div>
      <div>
        <dt>{t("campaign.couponsRevoked")}</dt>
        <dd>{points(s.couponsRevoked)}</dd>
      </div>
      <div>
        <dt>{t("campaign.couponsExpired")}</dt>
        <dd>{points(s.couponsExpired)}</dd>
      </div>
    </dl>
  );
}

function BurnDown({ c, s }: { c: Campaign; s: Defs["v1GetCampaignStatsResponse"] }) {
  const days = s.days ?? [];
  const coupons = c.type === "COUPON_DROP";
  const budget = Number((coupons ? c.budget?.coupons : c.budget?.points) ?? 0);
  return (
    <section class="card wide" aria-labelledby="cp-burn">
      <h2 id="cp-burn">{coupons ? t("campaign.couponsByDay") : t("campaign.burnDown")}</h2>
      <p class="muted small">{t("campaign.daysIn", { tz: s.timeZone ?? "" })}</p>
      {days.length === 0 ? (
        <p class="muted">{t("campaign.nothingYet")}</p>
      ) : coupons ? (
        <LineChart
          label={t("campaign.couponsByDay")}
          xs={days.map((d) => d.day ?? "")}
          series={[
            { name: t("campaign.couponsIssued"), values: days.map((d) => Number(d.couponsIssued ?? 0)), cls: "series-a" },
            { name: t("campaign.couponsRedeemed"), values: days.map((d) => Number(d.couponsRedeemed ?? 0)), cls: "series-b" },
          ]}
          format={(v) => points(Math.round(v))}
          xLabel={(d) => d.slice(5)}
        />
      ) : (
        (() => {
          const first = c.startsAt ?? c.createTime;
          const burn = burnDown(days, budget, first && s.timeZone ? dayIn(first, s.timeZone) : "");
          const series = [{ name: t("campaign.spent"), values: burn.map((b) => b.spent), cls: "series-a" }];
          if (budget > 0) series.push({ name: t("campaign.left"), values: burn.map((b) => b.left ?? 0), cls: "series-b" });
          return (
            <LineChart
              label={t("campaign.burnDown")}
              xs={burn.map((b) => b.day)}
              series={series}
              format={(v) => points(Math.round(v))}
              xLabel={(d) => d.slice(5)}
            />
          );
        })()
      )}
    </section>
  );
}

/** Simulate is the dry run: a member and an order (or an after-sales event), and
 * what the campaign would grant now. It changes nothing. */
function Simulate({ c }: { c: Campaign }) {
  const program = useLoad(() => call("get", "/v1/program", {}), []);
  const currency = program.value?.program?.currencies?.[0] ?? "CNY";
  const [memberId, setMemberId] = useState("");
  const [spend, setSpend] = useState("");
  const [eventType, setEventType] = useState("LATE_DELIVERY");
  const [delayHours, setDelayHours] = useState("");
  const [result, setResult] = useState<Defs["v1SimulateCampaignResponse"] | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [busy, setBusy] = useState(false);
  const compensation = c.type === "COMPENSATION";
  const orders = c.type === "POINTS_MULTIPLIER" || c.type === "POINTS_BONUS";

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(
        await call("post", "/v1/campaigns/{campaignId}:simulate", {
          path: { campaignId: c.campaignId ?? "" },
          body: {
            memberId,
            spend: orders && spend ? { amountMinor: spend, currency } : undefined,
            eventType: compensation ? eventType : undefined,
            delayHours: compensation && delayHours ? Number(delayHours) : undefined,
          },
        }),
      );
    } catch (err) {
      setError(err instanceof ApiError && err.fields.length > 0 ? err : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const fieldMsg = (name: string) => (error instanceof ApiError ? tField(error.fieldError(name)) : undefined);
  const attrs = (name: string, id: string) => ({
    id,
    "aria-invalid": fieldMsg(name) ? ("true" as const) : undefined,
    "aria-describedby": fieldMsg(name) ? `${id}-error` : undefined,
  });
  const err = (name: string, id: string) =>
    fieldMsg(name) ? (
      <p id={`${id}-error`} class="field-error">
        {fieldMsg(name)}
      </p>
    ) : null;

  return (
    <section class="card" aria-labelledby="sim-title">
      <h2 id="sim-title">{t("simulate.title")}</h2>
      <form class="stack" onSubmit={submit}>
        <label for="sim-member">{t("simulate.member")}</label>
        <input {...attrs("memberId", "sim-member")} value={memberId} required autocomplete="off" onInput={(e) => setMemberId((e.target as HTMLInputElement).value)} />
        {err("memberId", "sim-member")}
        {orders && (
          <>
            <label for="sim-spend">{t("simulate.spend", { currency })}</label>
            <input
              {...attrs("spend.amountMinor", "sim-spend")}
              type="number"
              min="0"
              step="1"
              value={spend}
              onInput={(e) => setSpend((e.target as HTMLInputElement).value)}
            />
            {err("spend.amountMinor", "sim-spend")}
          </>
        )}
        {compensation && (
          <>
            <label for="sim-event">{t("simulate.event")}</label>
            <select id="sim-event" value={eventType} onChange={(e) => setEventType((e.target as HTMLSelectElement).value)}>
              {reasonCodes.map((r) => (
                <option value={r}>{tCode("reason", r)}</option>
              ))}
            </select>
            <label for="sim-delay">{t("afterSales.delayHours")}</label>
            <input id="sim-delay" type="number" min="0" step="1" value={delayHours} onInput={(e) => setDelayHours((e.target as HTMLInputElement).value)} />
          </>
        )}
        <button type="submit" class="secondary" disabled={busy}>
          {busy ? t("common.sending") : t("simulate.submit")}
        </button>
      </form>
      {typeof error === "string" && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <div class={result.reason ? "waiting" : "success"} role="status" data-testid="simulation">
          <p>
            {result.reason
              ? t("simulate.nothing", { reason: tCode("simReason", result.reason) })
              : t("simulate.grants", {
                  points: points(result.points),
                  coupons: points(result.coupons ?? 0),
                })}
          </p>
          {result.ruleError && <p translate={false}>{result.ruleError}</p>}
          <ul class="small">
            {orders && <li>{t("simulate.base", { points: points(result.basePoints), spend: money(spend || "0", currency) })}</li>}
            <li>{result.activeNow ? t("simulate.activeNow") : t("simulate.notActiveNow")}</li>
            <li>{t("simulate.tier", { tier: result.tierId ?? "" })}</li>
            {result.budgetPointsLeft !== "-1" && orders && <li>{t("simulate.budgetLeft", { points: points(result.budgetPointsLeft) })}</li>}
            {result.capPointsLeft !== "-1" && orders && <li>{t("simulate.capLeft", { points: points(result.capPointsLeft) })}</li>}
          </ul>
        </div>
      )}
    </section>
  );
}
