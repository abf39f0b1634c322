// The console's pure rules, with no DOM, no framework and no state, so that
// test/logic.test.mjs runs them under node: routes, the language to start in, the
// statement's filter as a query, an order's refund state.
import type { definitions } from "./api/schema";

export type Route =
  | { name: "find" }
  | { name: "member"; memberId: string }
  | { name: "approvals" }
  | { name: "keys" }
  | { name: "campaigns" }
  | { name: "newCampaign" }
  | { name: "campaign"; campaignId: string }
  | { name: "liability" }
  | { name: "audit" }
  | { name: "settings" }
  | { name: "webhooks" }
  | { name: "events" };

/** parseRoute reads the screen from the URL's fragment (#/members/alice). */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "members" && parts[1]) return { name: "member", memberId: parts[1] };
  if (parts[0] === "approvals") return { name: "approvals" };
  if (parts[0] === "keys") return { name: "keys" };
  if (parts[0] === "campaigns" && parts[1] === "new") return { name: "newCampaign" };
  if (parts[0] === "campaigns" && parts[1]) return { name: "campaign", campaignId: parts[1] };
  if (parts[0] === "campaigns") return { name: "campaigns" };
  if (parts[0] === "liability") return { name: "liability" };
  if (parts[0] === "audit") return { name: "audit" };
  if (parts[0] === "settings") return { name: "settings" };
  if (parts[0] === "webhooks") return { name: "webhooks" };
  if (parts[0] === "events") return { name: "events" };
  return { name: "find" };
}

/** href is the fragment that opens a screen. */
export function href(r: Route): string {
  switch (r.name) {
    case "member":
      return `#/members/${encodeURIComponent(r.memberId)}`;
    case "approvals":
      return "#/approvals";
    case "keys":
      return "#/keys";
    case "campaigns":
      return "#/campaigns";
    case "newCampaign":
      return "#/campaigns/new";
    case "campaign":
      return `#/campaigns/${encodeURIComponent(r.campaignId)}`;
    case "liability":
      return "#/liability";
    case "audit":
      return "#/audit";
    case "settings":
      return "#/settings";
    case "webhooks":
      return "#/webhooks";
    case "events":
      return "#/events";
    default:
      return "#/";
  }
}

export type Locale = "en" | "zh-CN";

/** pickLocale chooses the remembered locale, else the browser's first supported one. */
export function pickLocale(stored: string | null, browser: readonly string[]): Locale {
  if (stored === "en" || stored === "zh-CN") return stored;
  for (const tag of browser) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

/** Filter is the statement's filter: one kind (or all), whole days in the viewer's
 * time zone (yyyy-mm-dd, empty: open). */
export interface Filter {
  kind: string;
  from: string;
  to: string;
}

/** filterQuery turns the filter into ListActivity's query, the "to" day included. */
export function filterQuery(f: Filter): { kinds?: string[]; startTime?: string; endTime?: string } {
  const q: { kinds?: string[]; startTime?: string; endTime?: string } = {};
  if (f.kind) q.kinds = [f.kind];
  if (f.from) q.startTime = new Date(`${f.from}T00:00:00`).toISOString();
  if (f.to) {
    const end = new Date(`${f.to}T00:00:00`);
    end.setDate(end.getDate() + 1);
    q.endTime = end.toISOString();
  }
  return q;
}

/** refundState is the server's order status (ledger.Order.Status decides it) as
 * the console's badge names it. */
export function refundState(o: definitions["v1Order"]): "full" | "partial" | "none" {
  if (o.status === "REFUNDED") return "full";
  if (o.status === "PARTLY_REFUNDED") return "partial";
  return "none";
}

// The field violations internal/validation writes, by their English wording, so that
// the console can say them in the viewer's language (apiField.* in the catalogues).
const fieldPatterns: [RegExp, string][] = [
  [/^is required$/, "required"],
  [/^must be at least (.+)$/, "atLeast"],
  [/^must be at most (.+)$/, "atMost"],
  [/^must be greater than (.+)$/, "greaterThan"],
  [/^must be one of: (.+)$/, "oneOf"],
];

/** fieldMessage recognises a field violation's description: which message, and the
 * value it names; null for one the console does not know (it is shown as sent). */
export function fieldMessage(description: string): { key: string; value: string } | null {
  for (const [re, key] of fieldPatterns) {
    const m = re.exec(description);
    if (m) return { key, value: m[1] ?? "" };
  }
  return null;
}

/** zoneOffsetMinutes is how far a time zone's wall clock is ahead of UTC at an
 * instant (Asia/Shanghai: 480). */
export function zoneOffsetMinutes(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return Math.round((wall - Math.floor(instant / 1000) * 1000) / 60000);
}

/** wallTimeToInstant reads a local wall time ("2026-11-11T00:00" or with seconds) in
 * an IANA time zone as the instant the server will read it as; null when either is
 * not valid. A wall time in a DST gap moves forward, as Go's time.Date does. */
export function wallTimeToInstant(local: string, timeZone: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m || !timeZone) return null;
  const asUTC = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  try {
    let instant = asUTC - zoneOffsetMinutes(asUTC, timeZone) * 60000;
    // The offset at the guess may differ from the one at the answer (near a change).
    instant = asUTC - zoneOffsetMinutes(instant, timeZone) * 60000;
    return new Date(instant);
  } catch {
    return null; // an unknown time zone
  }
}

/** apiWallTime is a datetime-local input's value as the API's local time (with
 * seconds); empty stays empty. */
export function apiWallTime(v: string): string {
  if (!v) return "";
  return /T\d{2}:\d{2}$/.test(v) ? `${v}:00` : v;
}

/** BurnPoint is one day of a campaign's budget burn-down: spent so far, and what
 * the budget leaves (null without a budget). */
export interface BurnPoint {
  day: string;
  spent: number;
  left: number | null;
}

/** burnDown accumulates a campaign's days (oldest first, net points a day) into
 * spent so far and budget left, day by day, from its first day (nothing spent yet)
 * when that is before the first day it gave anything. */
export function burnDown(days: { day?: string; points?: string }[], budget: number, firstDay = ""): BurnPoint[] {
  let spent = 0;
  const left = () => (budget > 0 ? Math.max(budget - spent, 0) : null);
  const out: BurnPoint[] = [];
  if (firstDay && days.length > 0 && firstDay < (days[0].day ?? "")) out.push({ day: firstDay, spent, left: left() });
  for (const d of days) {
    spent += Number(d.points ?? 0);
    out.push({ day: d.day ?? "", spent, left: left() });
  }
  return out;
}

/** dayIn is the day (yyyy-mm-dd) an instant falls on in a time zone. */
export function dayIn(instant: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(instant));
}

/** niceMax rounds a chart's largest value up to 1, 2 or 5 times a power of ten, so
 * that its axis reads well (0 stays 1). */
export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 2, 5, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

/** CampaignForm is the campaign builder's fields, as typed. */
export interface CampaignForm {
  displayName: string;
  type: string;
  multiplierPercent: string;
  bonusPoints: string;
  couponKind: string;
  amountOffMinor: string;
  percentOff: string;
  minSpendMinor: string;
  validDays: string;
  eventTypes: string[];
  minDelayHours: string;
  compensationPoints: string;
  referrerPoints: string;
  referredPoints: string;
  referralsPerMonth: string;
  startTime: string;
  endTime: string;
  timeZone: string;
  tiers: string[];
  rule: string;
  budgetPoints: string;
  budgetCoupons: string;
  capPoints: string;
  capCoupons: string;
}

type CreateBody = definitions["v1CreateCampaignRequest"];

/** campaignBody turns the builder's fields into CreateCampaign's body: only the
 * type's own parts, numbers as the API takes them, empty parts left out (the server
 * names what is missing). */
export function campaignBody(f: CampaignForm, requestId: string): CreateBody {
  const num = (v: string) => (v.trim() === "" ? undefined : Number(v));
  const int64 = (v: string) => (v.trim() === "" ? undefined : v.trim());
  const b: CreateBody = { requestId, displayName: f.displayName.trim(), type: f.type };
  const coupon = () =>
    f.couponKind
      ? {
          kind: f.couponKind,
          amountOffMinor: f.couponKind === "AMOUNT_OFF" ? int64(f.amountOffMinor) : undefined,
          percentOff: f.couponKind === "PERCENT_OFF" ? num(f.percentOff) : undefined,
          minSpendMinor: int64(f.minSpendMinor),
          validDays: num(f.validDays),
        }
      : undefined;
  if (f.type === "POINTS_MULTIPLIER") b.multiplierPercent = num(f.multiplierPercent);
  if (f.type === "POINTS_BONUS") b.bonusPoints = int64(f.bonusPoints);
  if (f.type === "COUPON_DROP" || f.type === "COMPENSATION") b.coupon = coupon();
  if (f.type === "COMPENSATION")
    b.compensation = { eventTypes: f.eventTypes, minDelayHours: num(f.minDelayHours), points: int64(f.compensationPoints) };
  if (f.type === "REFERRAL") {
    const perMonth = num(f.referralsPerMonth);
    b.referral = {
      referrerPoints: int64(f.referrerPoints),
      referredPoints: int64(f.referredPoints),
      caps: perMonth ? { perReferrerPerMonth: perMonth } : undefined,
    };
  }
  if (f.startTime || f.endTime)
    b.schedule = { startTime: apiWallTime(f.startTime), endTime: apiWallTime(f.endTime), timeZone: f.timeZone };
  if (f.tiers.length || f.rule.trim()) b.eligibility = { tiers: f.tiers, rule: f.rule };
  const points = f.type === "COUPON_DROP" ? undefined : int64(f.budgetPoints);
  const coupons = f.type === "COUPON_DROP" || f.type === "COMPENSATION" ? int64(f.budgetCoupons) : undefined;
  if (points || coupons) b.budget = { points, coupons };
  const capPoints = f.type === "COUPON_DROP" ? undefined : int64(f.capPoints);
  const capCoupons = f.type === "COUPON_DROP" || f.type === "COMPENSATION" ? num(f.capCoupons) : undefined;
  if (capPoints || capCoupons) b.perMemberCap = { points: capPoints, coupons: capCoupons };
  return b;
}

/** issueMarker is the line of a rule an issue is on, and a caret under where it is
 * (line and column count from 1); null when the issue is about the whole rule. */
export function issueMarker(rule: string, line: number, column: number): { text: string; caret: string } | null {
  const lines = rule.split("\n");
  if (line < 1 || line > lines.length) return null;
  const text = lines[line - 1];
  const col = Math.max(1, Math.min(column, text.length + 1));
  return { text, caret: `${" ".repeat(col - 1)}^` };
}

/** campaignLines are what campaigns gave in an entry: its postings from campaign
 * accounts (system:campaign:<id>, negative: the campaign paid), as points given. */
export function campaignLines(postings: { account?: string; amount?: string }[] | undefined): { campaignId: string; points: number }[] {
  const prefix = "system:campaign:";
  return (postings ?? [])
    .filter((p) => p.account?.startsWith(prefix) && Number(p.amount ?? 0) !== 0)
    .map((p) => ({ campaignId: (p.account ?? "").slice(prefix.length), points: -Number(p.amount ?? 0) }));
}

/** splitList reads a list typed as text: items separated by commas, spaces or new
 * lines, blanks dropped ("CNY, USD" → ["CNY", "USD"]). */
export function splitList(v: string): string[] {
  return v.split(/[\s,，、]+/).filter(Boolean);
}

/** dayList reads a list of days typed as text. An item that is not a whole number
 * is sent as 0, which the server refuses naming the item (expiryReminderDays[1]),
 * so that the error still sits next to the field. */
export function dayList(v: string): number[] {
  return splitList(v).map((d) => (/^-?\d+$/.test(d) ? Number(d) : 0));
}

/** violationsFor are the descriptions of the violations about a field or, for a
 * list typed in one input, about one of its items (currencies[1]: "the 2nd: ..."). */
export function violationsFor(fields: { field: string; description: string }[], name: string): { item: number | null; description: string }[] {
  const out: { item: number | null; description: string }[] = [];
  for (const f of fields) {
    if (f.field === name) out.push({ item: null, description: f.description });
    const m = f.field.startsWith(`${name}[`) ? /^\[(\d+)\]$/.exec(f.field.slice(name.length)) : null;
    if (m) out.push({ item: Number(m[1]), description: f.description });
  }
  return out;
}

/** unplaced are the violations no field of the form shows (placed: the names the
 * form has inputs for, a list's items included), so that they are said above it. */
export function unplaced(fields: { field: string; description: string }[], placed: string[]): { field: string; description: string }[] {
  return fields.filter((f) => !placed.some((p) => f.field === p || new RegExp(`^${p.replace(/[.[\]]/g, "\\$&")}\\[\\d+\\]$`).test(f.field)));
}

/** fieldDomId is the element id of a form field the API names (tiers[1].threshold →
 * tp-tiers-1-threshold), so that its error can sit next to it. */
export function fieldDomId(prefix: string, field: string): string {
  return `${prefix}-${field.replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, "")}`;
}

/** ProgramForm is the program settings' fields, as typed. */
export interface ProgramForm {
  earnPoints: string;
  earnPerAmountMinor: string;
  returnWindowDays: string;
  expiryKind: string;
  expiryDays: string;
  pointsPerUnit: string;
  currencies: string;
  timeZone: string;
  expiryReminderDays: string;
}

type Program = definitions["v1Program"];

/** programForm is the form for the settings in force. */
export function programForm(p: Program): ProgramForm {
  return {
    earnPoints: p.earnPoints ?? "",
    earnPerAmountMinor: p.earnPerAmountMinor ?? "",
    returnWindowDays: String(p.returnWindowDays ?? 0),
    expiryKind: p.expiry?.kind ?? "",
    expiryDays: String(p.expiry?.days ?? 0),
    pointsPerUnit: p.pointsPerUnit ?? "",
    currencies: (p.currencies ?? []).join(", "),
    timeZone: p.timeZone ?? "",
    expiryReminderDays: (p.expiryReminderDays ?? []).join(", "),
  };
}

/** programBody is UpdateProgram's body: numbers as the API takes them (int64 as
 * strings), lists split, codes upper-cased; the expiry's days only for ROLLING_DAYS
 * (the server refuses days with END_OF_FOLLOWING_YEAR). */
export function programBody(f: ProgramForm): Program {
  const int = (v: string) => (v.trim() === "" ? 0 : Number(v));
  return {
    earnPoints: f.earnPoints.trim() || "0",
    earnPerAmountMinor: f.earnPerAmountMinor.trim() || "0",
    returnWindowDays: int(f.returnWindowDays),
    expiry: { kind: f.expiryKind, days: f.expiryKind === "ROLLING_DAYS" ? int(f.expiryDays) : 0 },
    pointsPerUnit: f.pointsPerUnit.trim() || "0",
    currencies: splitList(f.currencies).map((c) => c.toUpperCase()),
    timeZone: f.timeZone.trim(),
    expiryReminderDays: dayList(f.expiryReminderDays),
  };
}

type Policy = definitions["v1TierPolicy"];
type Tier = definitions["v1Tier"];

/** newTier is the rung added below the top of the ladder's editor: the top's perks,
 * a threshold above it, an id to change. */
export function newTier(tiers: Tier[]): Tier {
  const top = tiers[tiers.length - 1];
  const threshold = top ? String(BigInt(top.threshold ?? "0") * 2n || 1000n) : "0";
  let n = tiers.length + 1;
  while (tiers.some((t) => t.id === `tier${n}`)) n++;
  return { id: `tier${n}`, displayName: "", threshold, perks: { ...(top?.perks ?? {}) } };
}

/** policyBody is UpdateTierPolicy's body: the policy as edited, without the output
 * fields (version, updateTime). */
export function policyBody(p: Policy): Policy {
  const { version: _v, updateTime: _u, ...rest } = p;
  return rest;
}

/** EventFilter is the events view's filter: types (empty: all) and a member. */
export interface EventFilter {
  types: string[];
  memberId: string;
}

/** eventsQuery is ListEvents' query from a position (empty: the start). */
export function eventsQuery(f: EventFilter, after: string, pageSize = 100): { afterPosition?: string; types?: string[]; memberId?: string; pageSize: number } {
  return { afterPosition: after || undefined, types: f.types.length ? f.types : undefined, memberId: f.memberId.trim() || undefined, pageSize };
}

/** newestFirst adds a page of events (oldest first, as the feed answers) to those
 * shown (newest first), keeping at most max. */
export function newestFirst<T>(shown: T[], page: T[], max: number): T[] {
  return [...page].reverse().concat(shown).slice(0, max);
}

/** eventTypes is the feed's catalogue (events/catalog.go, docs/EVENTS.md), for the
 * events view's filter. */
export const eventTypes = [
  "member.enrolled",
  "member.updated",
  "member.imported",
  "points.earned",
  "points.redeemed",
  "hold.placed",
  "hold.captured",
  "hold.voided",
  "hold.expired",
  "entry.reversed",
  "points.refunded",
  "points.refund_returned",
  "points.released",
  "points.expired",
  "points.goodwill",
  "points.campaign_credited",
  "points.compensated",
  "points.opened",
  "points.activity_rewarded",
  "points.birthday_bonus",
  "points.bulk_credited",
  "points.referral_rewarded",
  "approval.requested",
  "approval.decided",
  "tier.changed",
  "tier.grace_started",
  "membership.purchased",
  "membership.cancelled",
  "membership.ended",
  "entitlement.consumed",
  "campaign.status_changed",
  "campaign.budget_exhausted",
  "coupon.issued",
  "coupon.redeemed",
  "coupon.revoked",
  "coupon.expired",
  "compensation.granted",
  "compensation.refused",
  "activity.recorded",
  "referral.recorded",
  "referral.settled",
  "points.expiring",
  "tier.downgrade_due",
  "webhook_endpoint.disabled",
] as const;

/** ActivityLine is one campaign's part in an activity's answer: the points it
 * granted, or the reason it gave nothing (with the rule's error for RULE_ERROR). */
export interface ActivityLine {
  campaignId: string;
  points?: string;
  reason?: string;
  ruleError?: string;
}

/** activityOutcome reads RecordActivity's answer as one line per campaign that
 * covers the type, those that granted first; reason is the answer's own reason when
 * no campaign covers the type (NO_MATCHING_CAMPAIGN). A grant of 0 points is no
 * grant: it is left out, the refusals say why. */
export function activityOutcome(r: definitions["v1RecordActivityResponse"]): {
  granted: ActivityLine[];
  refused: ActivityLine[];
  total: string;
  reason: string;
} {
  const granted = (r.grants ?? [])
    .filter((g) => g.points && g.points !== "0")
    .map((g) => ({ campaignId: g.campaignId ?? "", points: g.points }));
  const refused = (r.refusals ?? []).map((x) => ({
    campaignId: x.campaignId ?? "",
    reason: x.reason ?? "",
    ruleError: x.ruleError || undefined,
  }));
  const reason = r.reason || (granted.length === 0 && refused.length === 0 ? "NO_MATCHING_CAMPAIGN" : "");
  return { granted, refused, total: r.points ?? "0", reason };
}

/** referralPaid is what a referral paid each side: the points of a PAID referral,
 * null for any other status (a pending one has paid nothing yet, whatever campaign
 * it may match). */
export function referralPaid(r: definitions["v1Referral"]): { referrer: string; referred: string } | null {
  if (r.status !== "PAID") return null;
  return { referrer: r.referrerPoints ?? "0", referred: r.referredPoints ?? "0" };
}
