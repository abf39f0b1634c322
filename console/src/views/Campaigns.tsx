import { useState } from "preact/hooks";
import { call, type Defs } from "../api/client";
import { dateTime, locale, points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { can } from "../roles";
import { href } from "../route";
import { errorText } from "./App";

export const campaignTypes = ["POINTS_MULTIPLIER", "POINTS_BONUS", "COUPON_DROP", "COMPENSATION", "REFERRAL"] as const;
const statuses = ["DRAFT", "SCHEDULED", "ACTIVE", "PAUSED", "ENDED"] as const;

type Campaign = Defs["v1Campaign"];

/** zoned formats an instant in a given IANA time zone (the campaign's). */
function zoned(v: string | undefined, timeZone: string | undefined): string {
  if (!v || !timeZone) return "";
  try {
    return new Intl.DateTimeFormat(locale(), {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone,
    }).format(new Date(v));
  } catch {
    return v;
  }
}

/** Schedule shows when a campaign runs: in its own time zone, and in the viewer's
 * when that differs. */
export function Schedule({ c }: { c: Campaign }) {
  const tz = c.schedule?.timeZone;
  const viewer = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!c.startsAt && !c.endsAt) return <span class="muted">{t("campaign.openSchedule")}</span>;
  const part = (v: string | undefined, key: "campaign.from" | "campaign.until") =>
    v && (
      <span class="sched">
        {t(key, { time: zoned(v, tz) })} <span class="muted small">{tz}</span>
        {tz !== viewer && (
          <>
            <br />
            <span class="muted small">{t("campaign.yourTime", { time: dateTime(v) })}</span>
          </>
        )}
      </span>
    );
  return (
    <span class="schedule">
      {part(c.startsAt, "campaign.from")}
      {part(c.endsAt, "campaign.until")}
    </span>
  );
}

/** Budget shows what a campaign spent and what its budget leaves. */
export function Budget({ c }: { c: Campaign }) {
  const coupons = c.type === "COUPON_DROP" || c.type === "COMPENSATION";
  const pts = c.type !== "COUPON_DROP";
  return (
    <span>
      {pts && (
        <span class="budget-line">
          {c.budget?.points && c.budget.points !== "0"
            ? t("campaign.pointsOfBudget", {
                spent: points(c.spent?.points),
                budget: points(c.budget.points),
                left: points(c.remaining?.points),
              })
            : t("campaign.pointsNoBudget", { spent: points(c.spent?.points) })}
        </span>
      )}
      {coupons && (
        <span class="budget-line">
          {c.budget?.coupons && c.budget.coupons !== "0"
            ? t("campaign.couponsOfBudget", {
                spent: points(c.spent?.coupons),
                budget: points(c.budget.coupons),
                left: points(c.remaining?.coupons),
              })
            : t("campaign.couponsNoBudget", { spent: points(c.spent?.coupons) })}
        </span>
      )}
    </span>
  );
}

export function StatusBadge({ status }: { status?: string }) {
  return <span class={`badge status-${(status ?? "").toLowerCase()}`}>{tCode("campaignStatus", status)}</span>;
}

export function Campaigns({ role }: { role: string }) {
  const [status, setStatus] = useState("");
  const list = useLoad(() => call("get", "/v1/campaigns", { query: { status, pageSize: 100 } }), [status]);
  const rows = list.value?.campaigns ?? [];
  return (
    <section class="card wide" aria-labelledby="campaigns-title">
      <div class="title-row">
        <h1 id="campaigns-title">{t("campaigns.title")}</h1>
        {can(role, "manageCampaigns") && (
          <a class="button" href={href({ name: "newCampaign" })}>
            {t("campaigns.new")}
          </a>
        )}
      </div>
      <div class="filters">
        <div>
          <label for="cl-status">{t("campaigns.status")}</label>
          <select id="cl-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">{t("campaigns.all")}</option>
            {statuses.map((s) => (
              <option value={s}>{tCode("campaignStatus", s)}</option>
            ))}
          </select>
        </div>
      </div>
      {list.error && <p role="alert">{errorText(list.error)}</p>}
      {list.value && rows.length === 0 && <p class="muted">{t("campaigns.none")}</p>}
      {rows.length > 0 && (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="campaigns-title">
          <table data-testid="campaigns">
            <thead>
              <tr>
                <th scope="col">{t("campaigns.name")}</th>
                <th scope="col">{t("campaigns.type")}</th>
                <th scope="col">{t("campaigns.status")}</th>
                <th scope="col">{t("campaigns.schedule")}</th>
                <th scope="col">{t("campaigns.budget")}</th>
                <th scope="col" class="num">
                  {t("campaigns.grants")}
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr>
                  <td>
                    <a href={href({ name: "campaign", campaignId: c.campaignId ?? "" })} translate={false}>
                      {c.displayName}
                    </a>
                  </td>
                  <td>{tCode("campaignType", c.type)}</td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>
                    <Schedule c={c} />
                  </td>
                  <td>
                    <Budget c={c} />
                  </td>
                  <td class="num">{points(c.grants)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
