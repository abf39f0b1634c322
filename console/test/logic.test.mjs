// Unit tests of the console's pure logic (src/logic.ts, src/roles.ts,
// src/api/client.ts). The TypeScript compiler, already a build dependency, turns
// each module into JavaScript for node; they import nothing but types.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const src = new URL("../src/", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "console-logic-"));
async function load(path) {
  const js = ts.transpileModule(readFileSync(join(src, path), "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const file = join(out, path.replaceAll("/", "_").replace(/\.ts$/, ".mjs"));
  writeFileSync(file, js);
  return import(file);
}
const logic = await load("logic.ts");
const roles = await load("roles.ts");
const client = await load("api/client.ts");

test("routes read and write the fragment", () => {
  for (const [hash, want] of [
    ["", { name: "find" }],
    ["#/", { name: "find" }],
    ["#/members/alice", { name: "member", memberId: "alice" }],
    ["#/members/a%3Ab", { name: "member", memberId: "a:b" }],
    ["#/members/", { name: "find" }],
    ["#/approvals", { name: "approvals" }],
    ["#/keys", { name: "keys" }],
    ["#/campaigns", { name: "campaigns" }],
    ["#/campaigns/new", { name: "newCampaign" }],
    ["#/campaigns/cmp_ABC", { name: "campaign", campaignId: "cmp_ABC" }],
    ["#/liability", { name: "liability" }],
    ["#/audit", { name: "audit" }],
    ["#/settings", { name: "settings" }],
    ["#/webhooks", { name: "webhooks" }],
    ["#/events", { name: "events" }],
    ["#/nowhere", { name: "find" }],
  ]) {
    assert.deepEqual(logic.parseRoute(hash), want, hash);
    assert.deepEqual(logic.parseRoute(logic.href(want)), want, `round trip of ${hash}`);
  }
});

test("the language: remembered first, then the browser's, else English", () => {
  for (const [stored, browser, want] of [
    ["zh-CN", ["en-US"], "zh-CN"],
    ["en", ["zh-CN"], "en"],
    [null, ["zh-TW", "en"], "zh-CN"],
    [null, ["fr-FR", "en-GB"], "en"],
    [null, ["fr-FR"], "en"],
    ["klingon", [], "en"],
  ]) {
    assert.equal(logic.pickLocale(stored, browser), want, `${stored} ${browser}`);
  }
});

test("the statement's filter: one kind, whole days, the last day included", () => {
  assert.deepEqual(logic.filterQuery({ kind: "", from: "", to: "" }), {});
  const q = logic.filterQuery({ kind: "GOODWILL", from: "2026-11-11", to: "2026-11-11" });
  assert.deepEqual(q.kinds, ["GOODWILL"]);
  assert.equal(q.startTime, new Date(2026, 10, 11).toISOString());
  assert.equal(q.endTime, new Date(2026, 10, 12).toISOString());
  assert.equal(logic.filterQuery({ kind: "", from: "", to: "2026-12-31" }).endTime, new Date(2027, 0, 1).toISOString());
});

test("an order's refund state is the server's status", () => {
  for (const [order, want] of [
    [{}, "none"],
    [{ status: "NOT_REFUNDED" }, "none"],
    [{ status: "PARTLY_REFUNDED", refundedMinor: "5000" }, "partial"],
    // The server decides: counters alone do not make a refund state.
    [{ refundedMinor: "5000" }, "none"],
    [{ status: "REFUNDED", refundedMinor: "25900", fullyRefunded: true }, "full"],
  ]) {
    assert.equal(logic.refundState(order), want, JSON.stringify(order));
  }
});

test("field violations the console can translate", () => {
  assert.deepEqual(logic.fieldMessage("is required"), { key: "required", value: "" });
  assert.deepEqual(logic.fieldMessage("must be at least 1"), { key: "atLeast", value: "1" });
  assert.deepEqual(logic.fieldMessage("must be one of: A B"), { key: "oneOf", value: "A B" });
  assert.equal(logic.fieldMessage("is not a query parameter of this request"), null);
});

test("roles: the console offers only what internal/server/roles.go allows", () => {
  assert.ok(roles.can("agent", "grantGoodwill"));
  assert.ok(!roles.can("agent", "decideApprovals"));
  assert.ok(!roles.can("agent", "listApprovals"));
  // ListOwnApprovals is the agent's alone: its own requests, nobody else's.
  assert.ok(roles.can("agent", "listOwnApprovals"));
  assert.ok(!roles.can("app", "listOwnApprovals") && !roles.can("auditor", "listOwnApprovals"));
  assert.ok(roles.can("auditor", "listApprovals") && !roles.can("auditor", "decideApprovals"));
  assert.ok(!roles.can("auditor", "grantGoodwill") && !roles.can("app", "grantGoodwill"));
  assert.ok(roles.can("admin", "decideApprovals") && roles.can("admin", "manageKeys"));
  assert.ok(!roles.can("agent", "manageKeys") && !roles.can("auditor", "manageKeys"));
  assert.ok(!roles.can("marketer", "readMembers"));
  assert.ok(!roles.can("nobody", "readMembers"));
});

test("the client fills paths and queries the way the gateway reads them", () => {
  assert.equal(client.fill("/v1/members/{memberId}/orders/{orderId}", { memberId: "a b", orderId: "A/1" }), "/v1/members/a%20b/orders/A%2F1");
  assert.throws(() => client.fill("/v1/members/{memberId}", {}), /memberId/);
  assert.equal(client.queryString({ kinds: ["EARN", "REDEEM"], pageSize: 50, pageToken: "", startTime: undefined }), "?kinds=EARN&kinds=REDEEM&pageSize=50");
  assert.equal(client.queryString(undefined), "");
});

test("the client reads an error's reason and the fields it names", () => {
  const err = client.toApiError(400, {
    code: 3,
    message: "points: must be at least 1",
    details: [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "INVALID_ARGUMENT" },
      { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "points", description: "must be at least 1" }] },
    ],
  });
  assert.equal(err.status, 400);
  assert.equal(err.reason, "INVALID_ARGUMENT");
  assert.equal(err.fieldError("points"), "must be at least 1");
  assert.equal(err.fieldError("note"), undefined);
  assert.equal(client.toApiError(502, null).message, "HTTP 502");
});

test("every action gets its own request id", () => {
  const a = client.newRequestId();
  assert.match(a, /^console-[0-9a-f-]{36}$/);
  assert.notEqual(a, client.newRequestId());
});

test("a wall time in a time zone is the instant the server reads", () => {
  // Double 11 starts at 16:00 UTC the day before in Shanghai (no DST there).
  assert.equal(logic.wallTimeToInstant("2026-11-11T00:00", "Asia/Shanghai")?.toISOString(), "2026-11-10T16:00:00.000Z");
  assert.equal(logic.wallTimeToInstant("2026-11-11T00:00:30", "UTC")?.toISOString(), "2026-11-11T00:00:30.000Z");
  // Either side of a DST change: New York is UTC-4 in summer, UTC-5 in winter.
  assert.equal(logic.wallTimeToInstant("2026-07-01T12:00", "America/New_York")?.toISOString(), "2026-07-01T16:00:00.000Z");
  assert.equal(logic.wallTimeToInstant("2026-12-01T12:00", "America/New_York")?.toISOString(), "2026-12-01T17:00:00.000Z");
  assert.equal(logic.wallTimeToInstant("2026-11-11", "UTC"), null);
  assert.equal(logic.wallTimeToInstant("2026-11-11T00:00", "Mars/Olympus"), null);
  assert.equal(logic.wallTimeToInstant("2026-11-11T00:00", ""), null);
  assert.equal(logic.zoneOffsetMinutes(Date.UTC(2026, 0, 1), "Asia/Shanghai"), 480);
  assert.equal(logic.apiWallTime("2026-11-11T00:00"), "2026-11-11T00:00:00");
  assert.equal(logic.apiWallTime(""), "");
});

test("a burn-down accumulates the days and what the budget leaves", () => {
  const days = [
    { day: "2026-11-10", points: "300" },
    { day: "2026-11-11", points: "900" },
    { day: "2026-11-12", points: "-200" }, // a refund gave back more than was paid
  ];
  assert.deepEqual(logic.burnDown(days, 1000), [
    { day: "2026-11-10", spent: 300, left: 700 },
    { day: "2026-11-11", spent: 1200, left: 0 },
    { day: "2026-11-12", spent: 1000, left: 0 },
  ]);
  assert.deepEqual(
    logic.burnDown(days, 0).map((d) => d.left),
    [null, null, null],
  );
  // From the campaign's first day, which gave nothing.
  assert.deepEqual(logic.burnDown(days, 1000, "2026-11-09")[0], { day: "2026-11-09", spent: 0, left: 1000 });
  assert.equal(logic.burnDown(days, 1000, "2026-11-10").length, 3, "a first day that gave something is not repeated");
  assert.equal(logic.dayIn("2026-11-10T16:00:00Z", "Asia/Shanghai"), "2026-11-11");
  assert.equal(logic.dayIn("2026-11-10T16:00:00Z", "UTC"), "2026-11-10");
  for (const [v, want] of [[0, 1], [7, 10], [10, 10], [11, 20], [1200, 2000], [4999, 5000]]) assert.equal(logic.niceMax(v), want, String(v));
});

const form = {
  displayName: " Double 11 ",
  type: "POINTS_MULTIPLIER",
  multiplierPercent: "200",
  bonusPoints: "50",
  couponKind: "AMOUNT_OFF",
  amountOffMinor: "1000",
  percentOff: "",
  minSpendMinor: "",
  validDays: "30",
  eventTypes: [],
  minDelayHours: "",
  compensationPoints: "",
  referrerPoints: "200",
  referredPoints: "100",
  referralsPerMonth: "",
  startTime: "2026-11-11T00:00",
  endTime: "",
  timeZone: "Asia/Shanghai",
  tiers: [],
  rule: "order.spendMinor >= 10000",
  budgetPoints: "100000",
  budgetCoupons: "10",
  capPoints: "",
  capCoupons: "",
};

test("the builder sends only the type's own parts", () => {
  assert.deepEqual(logic.campaignBody(form, "r1"), {
    requestId: "r1",
    displayName: "Double 11",
    type: "POINTS_MULTIPLIER",
    multiplierPercent: 200,
    schedule: { startTime: "2026-11-11T00:00:00", endTime: "", timeZone: "Asia/Shanghai" },
    eligibility: { tiers: [], rule: "order.spendMinor >= 10000" },
    budget: { points: "100000", coupons: undefined },
  });
  const drop = logic.campaignBody({ ...form, type: "COUPON_DROP", startTime: "", rule: "" }, "r2");
  assert.deepEqual(drop.coupon, { kind: "AMOUNT_OFF", amountOffMinor: "1000", percentOff: undefined, minSpendMinor: undefined, validDays: 30 });
  assert.deepEqual(drop.budget, { points: undefined, coupons: "10" });
  assert.equal(drop.multiplierPercent, undefined);
  assert.equal(drop.schedule, undefined);
  assert.equal(drop.eligibility, undefined);
  const comp = logic.campaignBody({ ...form, type: "COMPENSATION", couponKind: "", eventTypes: ["LATE_DELIVERY"], compensationPoints: "100" }, "r3");
  assert.deepEqual(comp.compensation, { eventTypes: ["LATE_DELIVERY"], minDelayHours: undefined, points: "100" });
  assert.equal(comp.coupon, undefined);
  assert.equal(comp.referral, undefined, "only a REFERRAL campaign sends referral");
  const ref = logic.campaignBody({ ...form, type: "REFERRAL", rule: "", startTime: "", referralsPerMonth: "3" }, "r4");
  assert.deepEqual(ref.referral, { referrerPoints: "200", referredPoints: "100", caps: { perReferrerPerMonth: 3 } });
  assert.equal(ref.coupon, undefined);
  assert.equal(ref.multiplierPercent, undefined);
  assert.deepEqual(ref.budget, { points: "100000", coupons: undefined });
  // No cap typed (or 0): no caps sent; a side left empty is left out, the server names what is missing.
  const open = logic.campaignBody({ ...form, type: "REFERRAL", referredPoints: "", referralsPerMonth: "0" }, "r5");
  assert.deepEqual(open.referral, { referrerPoints: "200", referredPoints: undefined, caps: undefined });
});

test("a rule issue is marked under its line and column", () => {
  assert.deepEqual(logic.issueMarker("order.spendMinr >= 1", 1, 6), { text: "order.spendMinr >= 1", caret: "     ^" });
  assert.deepEqual(logic.issueMarker("a &&\n  b ==", 2, 7), { text: "  b ==", caret: "      ^" });
  assert.deepEqual(logic.issueMarker("ab", 1, 99), { text: "ab", caret: "  ^" }, "a column past the end is at the end");
  assert.equal(logic.issueMarker("ab", 0, 0), null);
  assert.equal(logic.issueMarker("ab", 3, 1), null);
});

test("an entry's campaign lines are its campaign postings", () => {
  const postings = [
    { account: "member:available", amount: "590" },
    { account: "system:issued", amount: "-331" },
    { account: "system:campaign:cmp_A", amount: "-259" },
    { account: "system:campaign:cmp_B", amount: "0" },
  ];
  assert.deepEqual(logic.campaignLines(postings), [{ campaignId: "cmp_A", points: 259 }]);
  assert.deepEqual(logic.campaignLines(undefined), []);
});

test("marketers and auditors see their own screens", () => {
  assert.ok(roles.can("marketer", "manageCampaigns") && roles.can("marketer", "readCampaigns"));
  assert.ok(!roles.can("marketer", "readMembers") && !roles.can("marketer", "readLiability"));
  assert.ok(roles.can("auditor", "readLiability") && roles.can("auditor", "readAudit") && roles.can("auditor", "readCampaigns"));
  assert.ok(!roles.can("auditor", "manageCampaigns") && !roles.can("agent", "readCampaigns"));
});

test("lists typed in one field: commas, spaces, Chinese commas", () => {
  assert.deepEqual(logic.splitList(" CNY, usd，EUR、 JPY\n"), ["CNY", "usd", "EUR", "JPY"]);
  assert.deepEqual(logic.splitList(""), []);
  assert.deepEqual(logic.dayList("30, 7"), [30, 7]);
  // Not a number: sent as 0, which the server refuses naming the item.
  assert.deepEqual(logic.dayList("30, soon"), [30, 0]);
});

test("the program's form and body", () => {
  const program = {
    earnPoints: "1",
    earnPerAmountMinor: "100",
    returnWindowDays: 7,
    expiry: { kind: "END_OF_FOLLOWING_YEAR" },
    pointsPerUnit: "100",
    currencies: ["CNY", "USD"],
    timeZone: "Asia/Shanghai",
    expiryReminderDays: [30, 7],
    version: "3",
    updateTime: "2026-11-01T00:00:00Z",
  };
  const form = logic.programForm(program);
  assert.equal(form.currencies, "CNY, USD");
  assert.equal(form.expiryDays, "0");
  assert.equal(form.expiryReminderDays, "30, 7");
  const body = logic.programBody(form);
  assert.deepEqual(body, {
    earnPoints: "1",
    earnPerAmountMinor: "100",
    returnWindowDays: 7,
    expiry: { kind: "END_OF_FOLLOWING_YEAR", days: 0 },
    pointsPerUnit: "100",
    currencies: ["CNY", "USD"],
    timeZone: "Asia/Shanghai",
    expiryReminderDays: [30, 7],
  });
  // Days go only with ROLLING_DAYS; codes are upper-cased; an empty list is empty.
  const rolling = logic.programBody({ ...form, expiryKind: "ROLLING_DAYS", expiryDays: "365", currencies: "cny", expiryReminderDays: "" });
  assert.deepEqual(rolling.expiry, { kind: "ROLLING_DAYS", days: 365 });
  assert.deepEqual(rolling.currencies, ["CNY"]);
  assert.deepEqual(rolling.expiryReminderDays, []);
  assert.equal(logic.programBody({ ...form, expiryKind: "END_OF_FOLLOWING_YEAR", expiryDays: "365" }).expiry.days, 0);
});

test("a field's violations, a list's items, and those no field shows", () => {
  const fields = [
    { field: "earnPoints", description: "must be at least 1" },
    { field: "currencies[1]", description: "USD is listed twice" },
    { field: "currencies", description: "must list at most 20 currencies" },
    { field: "tiers[1].threshold", description: "thresholds must ascend strictly" },
    { field: "tiers[1].perks.refundMode", description: "must be one of: STANDARD FAST INSTANT" },
    { field: "somethingElse", description: "is wrong" },
  ];
  assert.deepEqual(logic.violationsFor(fields, "earnPoints"), [{ item: null, description: "must be at least 1" }]);
  assert.deepEqual(logic.violationsFor(fields, "currencies"), [
    { item: 1, description: "USD is listed twice" },
    { item: null, description: "must list at most 20 currencies" },
  ]);
  assert.deepEqual(logic.violationsFor(fields, "tiers"), [], "a tier's fields are not the list's items");
  assert.deepEqual(logic.violationsFor(fields, "tiers[1].threshold"), [{ item: null, description: "thresholds must ascend strictly" }]);
  assert.deepEqual(
    logic.unplaced(fields, ["earnPoints", "currencies", "tiers[1].threshold", "tiers[1].perks.refundMode"]).map((f) => f.field),
    ["somethingElse"],
  );
  assert.equal(logic.fieldDomId("tp", "tiers[1].perks.refundMode"), "tp-tiers-1-perks-refundMode");
  assert.equal(logic.fieldDomId("pg", "expiry.days"), "pg-expiry-days");
});

test("a new tier starts above the top one, with its perks and a free id", () => {
  const tiers = [
    { id: "member", threshold: "0", perks: { earnMultiplierPercent: 100 } },
    { id: "tier3", threshold: "5000", perks: { earnMultiplierPercent: 150, refundMode: "FAST" } },
  ];
  const t = logic.newTier(tiers);
  assert.equal(t.threshold, "10000");
  assert.equal(t.id, "tier4");
  assert.deepEqual(t.perks, { earnMultiplierPercent: 150, refundMode: "FAST" });
  assert.notEqual(t.perks, tiers[1].perks, "the perks are a copy");
  assert.equal(logic.newTier([{ id: "member", threshold: "0" }]).threshold, "1000");
  assert.equal(logic.newTier([]).threshold, "0");
  assert.deepEqual(logic.policyBody({ metric: "QUALIFYING_POINTS", version: "2", updateTime: "x" }), { metric: "QUALIFYING_POINTS" });
});

test("the events view: the query from a position, the newest first, bounded", () => {
  assert.deepEqual(logic.eventsQuery({ types: [], memberId: " " }, "", 100), { afterPosition: undefined, types: undefined, memberId: undefined, pageSize: 100 });
  assert.deepEqual(logic.eventsQuery({ types: ["points.earned"], memberId: " alice " }, "42", 500), {
    afterPosition: "42",
    types: ["points.earned"],
    memberId: "alice",
    pageSize: 500,
  });
  assert.deepEqual(logic.newestFirst([3, 2, 1], [4, 5], 10), [5, 4, 3, 2, 1]);
  assert.deepEqual(logic.newestFirst([3, 2, 1], [4, 5, 6], 4), [6, 5, 4, 3]);
  assert.ok(logic.eventTypes.includes("points.earned") && logic.eventTypes.includes("webhook_endpoint.disabled"));
});

test("roles: settings and webhooks are the admin's, the feed the auditor's too", () => {
  for (const a of ["editSettings", "manageWebhooks", "readEvents"]) assert.ok(roles.can("admin", a), a);
  assert.ok(roles.can("auditor", "readEvents"));
  assert.ok(!roles.can("auditor", "editSettings") && !roles.can("auditor", "manageWebhooks"));
  for (const r of ["agent", "app", "marketer"]) for (const a of ["editSettings", "manageWebhooks", "readEvents"]) assert.ok(!roles.can(r, a), `${r} ${a}`);
});

test("activityOutcome: a line per campaign, the grants first; no campaign says why", () => {
  const o = logic.activityOutcome({
    points: "20",
    grants: [
      { campaignId: "c1", points: "20", entryId: "9" },
      { campaignId: "c0", points: "0" },
    ],
    refusals: [{ campaignId: "c2", reason: "RULE_ERROR", ruleError: "division by zero" }, { campaignId: "c3", reason: "DAILY_CAP_REACHED" }],
  });
  assert.deepEqual(o.granted, [{ campaignId: "c1", points: "20" }]);
  assert.deepEqual(o.refused, [
    { campaignId: "c2", reason: "RULE_ERROR", ruleError: "division by zero" },
    { campaignId: "c3", reason: "DAILY_CAP_REACHED", ruleError: undefined },
  ]);
  assert.equal(o.total, "20");
  assert.equal(o.reason, "");
  assert.equal(logic.activityOutcome({ reason: "NO_MATCHING_CAMPAIGN" }).reason, "NO_MATCHING_CAMPAIGN");
  // An answer with neither grants nor refusals nor a reason still says nothing matched.
  assert.deepEqual(logic.activityOutcome({}), { granted: [], refused: [], total: "0", reason: "NO_MATCHING_CAMPAIGN" });
  // Refusals alone: no reason of the answer's own.
  assert.equal(logic.activityOutcome({ refusals: [{ campaignId: "c3", reason: "BUDGET_EXHAUSTED" }] }).reason, "");
});

test("referralPaid: only a PAID referral paid anything", () => {
  assert.deepEqual(logic.referralPaid({ status: "PAID", referrerPoints: "200", referredPoints: "100" }), { referrer: "200", referred: "100" });
  assert.deepEqual(logic.referralPaid({ status: "PAID", referrerPoints: "200" }), { referrer: "200", referred: "0" });
  for (const status of ["PENDING", "VOID", "CAPPED", "NO_CAMPAIGN", "NOT_ELIGIBLE", "BUDGET_EXHAUSTED", undefined]) {
    assert.equal(logic.referralPaid({ status, referrerPoints: "200", referredPoints: "100" }), null, String(status));
  }
});

test("roles: referrals and activities as internal/server/roles.go has them", () => {
  for (const r of ["app", "agent", "auditor", "admin"]) assert.ok(roles.can(r, "readReferrals"), r);
  assert.ok(!roles.can("marketer", "readReferrals"));
  // RecordReferral and RecordActivity are the shop app's (and the admin's).
  for (const a of ["recordReferrals", "recordActivities"]) {
    assert.ok(roles.can("app", a) && roles.can("admin", a), a);
    for (const r of ["agent", "auditor", "marketer"]) assert.ok(!roles.can(r, a), `${r} ${a}`);
  }
});
