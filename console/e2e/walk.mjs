// The support desk, walked in headless Chromium against a real loyaltyd (started by
// e2e_test.go, which seeded alice). The admin creates the agent's key in the console
// (500 a grant, 1,000 a day), the agent works the desk, the admin approves. Each step
// leaves a screenshot in SHOTS; a failed step leaves failure.png.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { CONSOLE_URL, CHROMIUM, ADMIN_KEY, MARKETER_KEY, AUDITOR_KEY, APP_KEY, SHOTS, HOOK_URL } = process.env;
const axeSource = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const en = JSON.parse(readFileSync(new URL("../src/i18n/en.json", import.meta.url), "utf8"));
const zh = JSON.parse(readFileSync(new URL("../src/i18n/zh-CN.json", import.meta.url), "utf8"));
mkdirSync(SHOTS, { recursive: true });
for (const f of readdirSync(SHOTS)) if (f.endsWith(".png")) rmSync(join(SHOTS, f));

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
// The viewer is in Berlin; the campaigns run in Shanghai: the console shows both.
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", timezoneId: "Europe/Berlin" });
const page = await context.newPage();
const origin = new URL(CONSOLE_URL).origin;
const problems = [];
// Nothing may leave the server's origin (no CDN, no font), and nothing may break.
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
  problems.push(`outside request: ${url}`);
  return route.abort();
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  // The 4xx the walk provokes on purpose (a wrong key, a grant without a ticket, a
  // member who does not exist) are logged by Chromium too.
  if (m.type() === "error" && !/status of 40[014]/.test(m.text())) problems.push(`console error: ${m.text()}`);
});

// accessible runs axe-core on the page (evaluated over the DevTools protocol, which the
// page's CSP does not govern) and fails on any serious or critical violation.
async function accessible(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const lines = bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(lines, [], `${name}: accessibility violations`);
}

let step = 0;
async function shot(name) {
  await accessible(name);
  step++;
  await page.screenshot({ path: join(SHOTS, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
  console.log(`ok ${step} ${name}`);
}

const available = page.getByTestId("available");
// The goodwill card, in whichever language the page is.
const gw = page.locator("section", { has: page.locator("#gw-title") });
const afterSales = page.getByRole("region", { name: en["afterSales.title"] });
async function availablePoints() {
  await assert.doesNotReject(available.filter({ hasText: /\d/ }).waitFor());
  return Number((await available.textContent()).replace(/[^\d-]/g, ""));
}
// api calls the REST API as the shop would (outside the browser).
async function api(method, path, key, body) {
  const r = await fetch(origin + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const json = await r.json();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}
// untranslated fails on English catalogue text on a Chinese page (what people
// wrote, marked translate="no", aside).
async function untranslated(where) {
  const text = await page.evaluate(() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('[translate="no"]').forEach((el) => el.remove());
    return copy.textContent;
  });
  for (const [key, value] of Object.entries(en)) {
    if (value === zh[key]) continue;
    for (const fragment of value.split(/\{\w+\}/).map((s) => s.trim())) {
      if (fragment.length >= 5 && /[a-z]{3}/.test(fragment)) {
        assert.ok(!text.includes(fragment), `untranslated on the Chinese ${where}: "${fragment}" (${key})`);
      }
    }
  }
}
// noOverflow fails when the page is wider than the viewport (a phone).
async function noOverflow(where) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${where} is ${overflow}px wider than a phone`);
}
async function signIn(key) {
  await page.getByLabel(en["signIn.key"], { exact: true }).fill(key);
  await page.getByRole("button", { name: en["signIn.submit"] }).click();
  await page.getByTestId("who").waitFor();
}
async function grant(points, reason, ticket, want) {
  await gw.getByLabel(en["goodwill.points"], { exact: true }).fill(String(points));
  await gw.getByLabel(en["goodwill.reason"], { exact: true }).selectOption(reason);
  await gw.getByLabel(en["goodwill.ticket"], { exact: true }).fill(ticket);
  await gw.getByLabel(en["goodwill.note"], { exact: true }).fill("Sorry for the trouble");
  await gw.getByRole("button", { name: en["goodwill.submit"], exact: true }).click();
  await page.getByTestId("goodwill-result").filter({ hasText: want }).waitFor();
}

try {
  // Sign in: a wrong key is refused next to the field, the agent's key is taken.
  await page.goto(CONSOLE_URL);
  await page.getByRole("heading", { name: en["signIn.title"] }).waitFor();
  // Keyboard alone: Tab reaches the key field, and focus is visible.
  await page.keyboard.press("Tab"); // the brand link
  await page.keyboard.press("Tab"); // the language
  await page.keyboard.press("Tab"); // the key
  assert.equal(await page.evaluate(() => document.activeElement?.id), "api-key");
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(ring, "none", "the focused field shows a focus ring");
  await page.keyboard.type("lk_not_a_key");
  await page.keyboard.press("Enter");
  await page.getByRole("alert").filter({ hasText: en["error.unauthenticated"] }).waitFor();
  await shot("sign-in-refused");

  // The admin creates the agent's key (its secret shown once) and sets its limits.
  await signIn(ADMIN_KEY);
  await page.getByRole("link", { name: en["nav.keys"] }).click();
  await page.getByLabel(en["keys.name"], { exact: true }).fill("Desk agent");
  await page.getByLabel(en["keys.role"], { exact: true }).selectOption("agent");
  await page.getByRole("button", { name: en["keys.createSubmit"], exact: true }).click();
  const agentKey = (await page.getByTestId("secret").textContent()).trim();
  assert.match(agentKey, /^lk_/);
  await page.getByRole("button", { name: "Goodwill limits of Desk agent" }).click();
  // The form starts from the limits the server applies: a new key's are the defaults.
  await page.getByTestId("limits-now").filter({ hasText: "Now the defaults: 500 per grant, 2,000 per day." }).waitFor();
  assert.equal(await page.getByLabel(en["keys.perDay"], { exact: true }).inputValue(), "2000");
  await page.getByLabel(en["keys.perGrant"], { exact: true }).fill("500");
  await page.getByLabel(en["keys.perDay"], { exact: true }).fill("1000");
  await page.getByRole("button", { name: en["keys.saveLimits"] }).click();
  await page.getByRole("status").filter({ hasText: /Saved: 500 per grant, 1,000 per day/ }).waitFor();
  await page.getByTestId("limits-now").filter({ hasText: "Now: 500 per grant, 1,000 per day." }).waitFor();
  await shot("keys");
  // Read again when the form opens again: what was saved, not an empty form.
  await page.getByRole("button", { name: "Goodwill limits of Desk agent" }).click();
  await page.getByRole("button", { name: "Goodwill limits of Desk agent" }).click();
  await page.getByTestId("limits-now").filter({ hasText: "Now: 500 per grant, 1,000 per day." }).waitFor();
  assert.equal(await page.getByLabel(en["keys.perDay"], { exact: true }).inputValue(), "1000");
  await page.getByRole("button", { name: en["app.signOut"] }).click();

  await signIn(agentKey);
  assert.match(await page.getByTestId("who").textContent(), /Desk agent/);
  assert.equal(await page.getByRole("link", { name: en["nav.approvals"] }).count(), 0, "an agent sees no approvals queue");

  // An unknown member is said so; then find alice by keyboard alone.
  await page.getByLabel(en["find.memberId"], { exact: true }).fill("nobody");
  await page.keyboard.press("Enter");
  await page.getByRole("alert").filter({ hasText: "No member nobody." }).waitFor();
  await page.getByRole("link", { name: en["member.findAnother"] }).click();
  await page.getByLabel(en["find.memberId"], { exact: true }).fill("alice");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: /Alice Chen/ }).waitFor();
  const before = await availablePoints();
  assert.equal(before, 500);
  await page.getByText("A100").first().waitFor();
  await page.getByText(en["orders.refund.partial"]).waitFor();
  // ListOrders: A100 earned 259 pending points; its refund of 50 yuan took 50 back.
  await page.locator("tr", { hasText: "A100" }).getByTestId("order-pending").filter({ hasText: "209" }).waitFor();
  // alice's tier gives no quota perk: the card says so.
  await page.getByRole("region", { name: en["entitlements.title"] }).getByText(en["entitlements.none"]).waitFor();
  await page.getByRole("region", { name: en["myRequests.title"] }).getByText(en["myRequests.none"]).waitFor();
  await page.getByText(en["couponStatus.ISSUED"]).waitFor();
  assert.match(await page.getByTestId("allowance").textContent(), /1,000 of your 1,000/);
  await shot("member");
  // An agent reads the member's referrals; recording one, or an activity, is the shop app's.
  await page.getByRole("region", { name: en["referrals.title"] }).getByText(en["referrals.none"]).waitFor();
  assert.equal(await page.getByLabel(en["referrals.referredId"], { exact: true }).count(), 0, "an agent records no referral");
  assert.equal(await page.getByRole("region", { name: en["activity.title"] }).count(), 0, "an agent reports no activity");

  // The API's refusal shows next to the field it names (a grant needs a ticket).
  await gw.getByLabel(en["goodwill.points"], { exact: true }).fill("100");
  await gw.getByLabel(en["goodwill.reason"], { exact: true }).selectOption("LATE_DELIVERY");
  await gw.getByRole("button", { name: en["goodwill.submit"], exact: true }).click();
  await page.locator("#gw-ticketId-error").waitFor();
  assert.equal(await gw.getByLabel(en["goodwill.ticket"], { exact: true }).getAttribute("aria-invalid"), "true");
  await shot("field-error");

  // Within the limit: posted at once, the balance and the allowance follow.
  await grant(100, "LATE_DELIVERY", "T-1001", /Granted 100 points/);
  await available.filter({ hasText: "600" }).waitFor();
  await page.getByTestId("allowance").filter({ hasText: /900 of your 1,000/ }).waitFor();
  await page.getByTestId("statement").getByText("T-1001").waitFor();
  await shot("granted");

  // A double click grants once.
  await gw.getByLabel(en["goodwill.points"], { exact: true }).fill("50");
  await gw.getByLabel(en["goodwill.reason"], { exact: true }).selectOption("WRONG_ITEM");
  await gw.getByLabel(en["goodwill.ticket"], { exact: true }).fill("T-1003");
  await gw.getByRole("button", { name: en["goodwill.submit"], exact: true }).dblclick();
  await page.getByTestId("goodwill-result").filter({ hasText: /Granted 50 points/ }).waitFor();
  await available.filter({ hasText: "650" }).waitFor();
  await page.getByTestId("allowance").filter({ hasText: /850 of your 1,000/ }).waitFor();

  // Above the per-grant limit: it waits for a supervisor, the balance stays.
  await grant(800, "DAMAGED_ITEM", "T-1002", /waiting for a supervisor/);
  await page.getByTestId("allowance").filter({ hasText: /850 of your 1,000/ }).waitFor();
  assert.equal(await availablePoints(), 650);
  // The agent's own requests list it, waiting (ListOwnApprovals).
  await page.getByTestId("my-requests").locator("tr", { hasText: "800" }).filter({ hasText: en["approvalStatus.PENDING"] }).waitFor();
  await shot("waiting-for-approval");

  // The agent revokes the member's coupon (after confirming).
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: /^Revoke / }).click();
  await page.getByText(en["couponStatus.REVOKED"]).waitFor();

  // After-sales events: one no campaign covers, then a late delivery that is compensated.
  const report = async (type, hours, want) => {
    await afterSales.getByLabel(en["afterSales.order"], { exact: true }).fill("A100");
    await afterSales.getByLabel(en["afterSales.type"], { exact: true }).selectOption(type);
    if (hours) await afterSales.getByLabel(en["afterSales.delayHours"], { exact: true }).fill(String(hours));
    await afterSales.getByRole("button", { name: en["afterSales.submit"], exact: true }).click();
    await page.getByTestId("after-sales-result").filter({ hasText: want }).waitFor();
  };
  await report("WRONG_ITEM", 0, /Nothing granted: no compensation campaign covers this event/);
  await report("LATE_DELIVERY", 72, /Granted:\s*100 points/);
  await available.filter({ hasText: "750" }).waitFor();
  await shot("after-sales");

  // A gold member's quota perk: a double click uses one, not two.
  await page.goto(`${CONSOLE_URL}#/members/carol`);
  await page.getByTestId("tier").filter({ hasText: "Gold" }).waitFor();
  const perk = page.getByRole("region", { name: en["entitlements.title"] });
  // ListEntitlements: gold's two quota perks, two of each a cycle.
  await perk.locator("[data-perk=freeReturnPickups]").filter({ hasText: "2 of 2" }).waitFor();
  await perk.locator("[data-perk=monthlyCouponAllowance]").filter({ hasText: "2 of 2" }).waitFor();
  await perk.getByRole("button", { name: "Use one: Free return pickups" }).dblclick();
  await perk.getByText("1 of 2").waitFor();
  await page.waitForTimeout(300); // a second use would show by now
  assert.equal(await perk.getByText("0 of 2").count(), 0, "a double click used the perk twice");
  await shot("perk-used");

  // The supervisor (admin) approves it in the queue.
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "signing out forgets the key");
  await signIn(ADMIN_KEY);
  await page.getByRole("link", { name: en["nav.approvals"] }).click();
  const row = page.locator("tr", { hasText: "alice" }).filter({ hasText: "800" }).filter({ hasText: "Desk agent" });
  await row.waitFor();
  await shot("approvals");
  await row.getByRole("button", { name: /^Approve/ }).click();
  await page.getByRole("status").filter({ hasText: /Approved #\d+/ }).waitFor();
  await shot("approved");

  // The member page shows the approved grant.
  await page.getByLabel(en["approvals.status"], { exact: true }).selectOption("APPROVED");
  await page.locator("tr", { hasText: "800" }).getByRole("link", { name: "alice" }).click();
  await available.filter({ hasText: "1,550" }).waitFor();
  await page.getByLabel(en["statement.kind"], { exact: true }).selectOption("GOODWILL");
  // The filtered page replaces the whole statement: three goodwill entries, no other kind.
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="statement"] tbody tr')];
    return rows.length === 3 && rows.every((r) => r.textContent.includes("Goodwill"));
  });
  await page.getByTestId("statement").getByText("T-1002").waitFor();
  await shot("member-after-approval");

  // The agent's own requests show the grant approved, in both languages.
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  await signIn(agentKey);
  await page.goto(`${CONSOLE_URL}#/members/alice`);
  await page.getByTestId("my-requests").locator("tr", { hasText: "800" }).filter({ hasText: en["approvalStatus.APPROVED"] }).waitFor();
  await page.getByLabel(en["app.language"], { exact: true }).selectOption("zh-CN");
  await page.getByRole("heading", { name: zh["myRequests.title"] }).waitFor();
  await page.getByTestId("my-requests").getByText(zh["approvalStatus.APPROVED"]).waitFor();
  await untranslated("agent's member page");
  await shot("my-requests-zh");
  await page.getByLabel(zh["app.language"], { exact: true }).selectOption("en");
  await page.getByRole("heading", { name: en["myRequests.title"] }).waitFor();

  // Infinite scroll: bob's 60 entries come 50 at a time, the rest when the end of the
  // list comes into view; the running balance goes down the list.
  await page.goto(`${CONSOLE_URL}#/members/bob`);
  const rows = page.getByTestId("statement").locator("tbody tr");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="statement"] tbody tr').length === 50);
  await page.locator(".sentinel").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="statement"] tbody tr').length === 60);
  assert.equal((await rows.first().locator("td").last().textContent()).trim(), "2,370");
  assert.equal((await rows.last().locator("td").last().textContent()).trim(), "10");
  await shot("statement-scrolled");

  // The marketer builds a Double 11 multiplier campaign; a bad rule is refused where
  // it is, as it is typed.
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  await signIn(MARKETER_KEY);
  await page.getByRole("heading", { name: en["campaigns.title"] }).waitFor();
  await page.getByRole("link", { name: "Singles Day coupon drop" }).waitFor();
  await shot("campaigns");
  await page.getByRole("link", { name: en["campaigns.new"] }).click();
  const builder = page.locator("form.builder");
  const day = (offset) => new Date(Date.now() + offset * 86400e3).toISOString().slice(0, 10);
  await builder.getByLabel(en["builder.name"], { exact: true }).fill("Double 11 double points");
  await builder.getByLabel(en["builder.type"], { exact: true }).selectOption("POINTS_MULTIPLIER");
  await builder.getByLabel(en["builder.multiplierPercent"], { exact: true }).fill("200");
  await builder.getByLabel(en["builder.start"], { exact: true }).fill(`${day(-1)}T00:00`);
  await builder.getByLabel(en["builder.end"], { exact: true }).fill(`${day(10)}T00:00`);
  await builder.getByLabel(en["builder.timeZone"], { exact: true }).fill("Asia/Shanghai");
  // Shanghai's midnight is 17:00 the day before in Berlin (winter).
  await page.getByTestId("your-time").filter({ hasText: /5:00\sPM/ }).waitFor();
  const rule = builder.getByLabel(en["builder.rule"], { exact: true });
  await rule.fill("order.spendMinr >= 10000");
  await page.getByTestId("rule-issues").filter({ hasText: "Line 1, column 6:" }).filter({ hasText: "undefined field 'spendMinr'" }).waitFor();
  assert.equal(await rule.getAttribute("aria-invalid"), "true");
  await shot("rule-refused");
  await rule.fill("order.spendMinor >= 10000");
  await page.getByTestId("rule-ok").waitFor();
  assert.equal(await rule.getAttribute("aria-invalid"), null);
  await builder.getByLabel(en["builder.budgetPoints"], { exact: true }).fill("1000");
  await shot("campaign-builder");
  await builder.getByRole("button", { name: en["builder.save"] }).click();
  await page.getByRole("heading", { name: /Double 11 double points/ }).waitFor();
  await page.locator(".badge", { hasText: en["campaignStatus.DRAFT"] }).waitFor();
  const campaignURL = page.url();

  // The dry run: what alice would get for an order of 300 yuan (a draft: not yet).
  const sim = page.getByRole("region", { name: en["simulate.title"] });
  await sim.getByLabel(en["simulate.member"], { exact: true }).fill("alice");
  await sim.getByLabel("Order spend (CNY, minor units)", { exact: true }).fill("30000");
  await sim.getByRole("button", { name: en["simulate.submit"] }).click();
  await page.getByTestId("simulation").filter({ hasText: /Would grant [\d,]+ points/ }).waitFor();
  await page.getByTestId("simulation").getByText(en["simulate.notActiveNow"]).waitFor();
  await shot("simulate");

  await page.getByRole("button", { name: en["campaign.activate"] }).click();
  await page.locator(".badge", { hasText: en["campaignStatus.ACTIVE"] }).waitFor();
  // An order placed through the API earns the campaign's line.
  await api("POST", "/v1/members", APP_KEY, { memberId: "dan", displayName: "Dan Zhou" });
  const earned = await api("POST", "/v1/members/dan:earn", APP_KEY, {
    requestId: "order-d11",
    orderId: "D11-1",
    spend: { amountMinor: 30000, currency: "CNY" },
  });
  const line = earned.breakdown.find((l) => l.source === "CAMPAIGN");
  assert.ok(line && Number(line.points) > 0, `the order earned no campaign line: ${JSON.stringify(earned)}`);
  await page.reload();
  await page.getByTestId("grants").filter({ hasText: "Grants so far: 1" }).waitFor();
  await page.locator("figure.chart svg").waitFor();
  await shot("campaign-burn-down");
  await page.setViewportSize({ width: 390, height: 844 });
  await noOverflow("the campaign page");
  await shot("campaign-phone");
  await page.goto(`${CONSOLE_URL}#/campaigns/new`);
  await page.locator("form.builder").waitFor();
  await noOverflow("the campaign builder");
  await shot("campaign-builder-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  // A referral campaign that pays no one is refused at the referrer's points.
  await builder.getByLabel(en["builder.name"], { exact: true }).fill("Bring two friends");
  await builder.getByLabel(en["builder.type"], { exact: true }).selectOption("REFERRAL");
  await builder.getByLabel(en["builder.referrerPoints"], { exact: true }).fill("0");
  await builder.getByLabel(en["builder.referredPoints"], { exact: true }).fill("0");
  await builder.getByLabel(en["builder.referralsPerMonth"], { exact: true }).fill("2");
  await builder.getByRole("button", { name: en["builder.save"] }).click();
  await page.locator("#cb-referrerPoints-error").waitFor();
  assert.equal(await builder.getByLabel(en["builder.referrerPoints"], { exact: true }).getAttribute("aria-invalid"), "true");
  await shot("campaign-builder-referral-refused");

  // The auditor: the liability by expiry month, the ledger verified, the audit log,
  // and the member page shows the order's campaign line.
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  await signIn(AUDITOR_KEY);
  await page.getByRole("link", { name: en["nav.liability"] }).click();
  await page.getByRole("heading", { name: en["liability.title"] }).waitFor();
  await page.getByTestId("liability-chart").locator("svg rect").first().waitFor();
  await page.getByRole("button", { name: en["verify.run"] }).click();
  await page.getByTestId("verify-result").filter({ hasText: /The books balance/ }).waitFor();
  await shot("liability");
  await page.getByRole("link", { name: en["nav.audit"] }).click();
  await page.getByTestId("audit").getByText("CampaignService/ActivateCampaign").first().waitFor();
  await shot("audit-log");
  await page.goto(campaignURL);
  await page.getByTestId("grants").filter({ hasText: "Grants so far: 1" }).waitFor();
  assert.equal(await page.getByRole("button", { name: en["campaign.activate"] }).count(), 0, "an auditor cannot run campaigns");
  await page.goto(`${CONSOLE_URL}#/members/dan`);
  await page.getByTestId("order-campaigns").filter({ hasText: `Double 11 double points +${line.points} points` }).waitFor();
  await shot("member-campaign-line");
  // The auditor reads the event feed, and has neither settings nor webhooks.
  await page.getByRole("link", { name: en["nav.events"] }).click();
  await page.getByTestId("events").getByText("campaign.status_changed").first().waitFor();
  assert.equal(await page.getByRole("link", { name: en["nav.settings"] }).count(), 0, "an auditor edits no settings");
  assert.equal(await page.getByRole("link", { name: en["nav.webhooks"] }).count(), 0, "an auditor manages no webhooks");
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  await signIn(ADMIN_KEY);

  // The admin edits the program: a bad value is refused next to its field (and
  // nothing is saved), a good one is saved as a new version.
  await page.getByRole("link", { name: en["nav.settings"] }).click();
  const program = page.locator("form", { has: page.locator("#program-title") });
  const earnPoints = program.getByLabel(en["program.earnPoints"], { exact: true });
  await earnPoints.waitFor();
  assert.equal(await earnPoints.inputValue(), "1");
  await earnPoints.fill("0");
  await program.getByLabel(en["program.currencies"], { exact: true }).fill("CNY, usd, CNY");
  await program.getByRole("button", { name: en["program.save"] }).click();
  await page.locator("#pg-earnPoints-error").filter({ hasText: "must be at least 1" }).waitFor();
  assert.equal(await earnPoints.getAttribute("aria-invalid"), "true");
  assert.equal(await earnPoints.getAttribute("aria-describedby"), "pg-earnPoints-error");
  await page.locator("#pg-currencies-error").filter({ hasText: /item 3: CNY is listed twice/ }).waitFor();
  await shot("program-refused");
  await earnPoints.fill("2");
  await program.getByLabel(en["program.currencies"], { exact: true }).fill("CNY, USD");
  await program.getByLabel(en["program.returnWindowDays"], { exact: true }).fill("14");
  await program.getByRole("button", { name: en["program.save"] }).click();
  await page.getByTestId("program-saved").filter({ hasText: /Saved as version \d+/ }).waitFor();
  assert.equal(await earnPoints.getAttribute("aria-invalid"), null);
  const saved = (await api("GET", "/v1/program", ADMIN_KEY)).program;
  assert.equal(saved.earnPoints, "2");
  assert.equal(saved.returnWindowDays, 14);
  assert.deepEqual(saved.currencies, ["CNY", "USD"]);
  // Put the earn rate back: the rest of the walk counts points at 1 per yuan.
  await earnPoints.fill("1");
  await program.getByRole("button", { name: en["program.save"] }).click();
  await page.getByTestId("program-saved").filter({ hasText: /Saved as version \d+/ }).waitFor();
  assert.equal((await api("GET", "/v1/program", ADMIN_KEY)).program.earnPoints, "1");

  // The tier policy: thresholds that do not ascend are refused at the tier that
  // breaks the order; gold's birthday points are raised.
  const policy = page.locator("form", { has: page.locator("#tp-title") });
  const gold = policy.getByTestId("tier-2");
  const goldThreshold = gold.getByLabel(en["tier.threshold"], { exact: true });
  assert.equal(await goldThreshold.inputValue(), "5000");
  await goldThreshold.fill("500");
  await policy.getByLabel(en["tierPolicy.graceDays"], { exact: true }).fill("400");
  await policy.getByRole("button", { name: en["tierPolicy.save"] }).click();
  await page.locator("#tp-tiers-2-threshold-error").filter({ hasText: "thresholds must ascend strictly" }).waitFor();
  await page.locator("#tp-graceDays-error").waitFor();
  assert.equal(await goldThreshold.getAttribute("aria-invalid"), "true");
  await page.locator("#tp-tiers-2-threshold").scrollIntoViewIfNeeded();
  await shot("tier-policy-refused");
  await goldThreshold.fill("5000");
  await policy.getByLabel(en["tierPolicy.graceDays"], { exact: true }).fill("30");
  await gold.getByLabel(en["tier.birthdayBonusPoints"], { exact: true }).fill("500");
  await policy.getByRole("button", { name: en["tierPolicy.save"] }).click();
  await page.getByTestId("policy-saved").filter({ hasText: /Saved as version 1\./ }).waitFor();
  const tiers = (await api("GET", "/v1/tierPolicy", ADMIN_KEY)).tiers;
  assert.equal(tiers[2].perks.birthdayBonusPoints, "500");
  assert.equal(tiers[2].threshold, "5000");
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot("settings");

  // A webhook endpoint: a URL that is not one is refused at the field; the
  // endpoint's secret is shown once; a member enrolled is delivered to it.
  await page.getByRole("link", { name: en["nav.webhooks"] }).click();
  const hookURL = page.getByLabel(en["webhooks.url"], { exact: true });
  await hookURL.fill("ftp://example.com/hook");
  await page.getByRole("button", { name: en["webhooks.createSubmit"], exact: true }).click();
  await page.locator("#hook-url-error").filter({ hasText: /http/ }).waitFor();
  assert.equal(await hookURL.getAttribute("aria-invalid"), "true");
  await hookURL.fill(HOOK_URL);
  await page.getByLabel(en["webhooks.eventTypes"], { exact: true }).fill("member.enrolled, points.earned");
  await page.getByLabel(en["webhooks.description"], { exact: true }).fill("CRM sync");
  await page.getByRole("button", { name: en["webhooks.createSubmit"], exact: true }).click();
  const hookSecret = (await page.getByTestId("webhook-secret").textContent()).trim();
  assert.match(hookSecret, /^whsec_/);
  await page.getByTestId("webhooks").getByText(HOOK_URL).waitFor();
  await shot("webhook-secret");
  await page.getByRole("button", { name: en["keys.secretDone"] }).click();
  assert.equal(await page.getByTestId("webhook-secret").count(), 0, "the secret is shown once");
  await page.reload();
  await page.getByTestId("webhooks").getByText(HOOK_URL).waitFor();
  assert.ok(!(await page.content()).includes(hookSecret), "the secret is never shown again");
  await api("POST", "/v1/members", APP_KEY, { memberId: "erin", displayName: "Erin Xu" });
  await page.getByRole("button", { name: `Deliveries to ${HOOK_URL}` }).click();
  const deliveries = page.getByTestId("deliveries");
  // The dispatcher delivers within a moment; the view is refreshed until it has.
  for (let i = 0; i < 40 && (await deliveries.getByText(en["deliveryStatus.SUCCEEDED"]).count()) === 0; i++) {
    await page.waitForTimeout(250);
    await deliveries.getByRole("button", { name: en["webhooks.refresh"] }).click();
  }
  const delivered = deliveries.locator("tr", { hasText: "member.enrolled" }).filter({ hasText: "erin" });
  await delivered.getByText(en["deliveryStatus.SUCCEEDED"]).waitFor();
  await delivered.getByText(/HTTP 204 in/).waitFor();
  await shot("webhooks");

  // The events view follows the feed: erin's enrolment is there, a new event
  // appears without a reload, the member filter keeps only hers.
  await page.getByRole("link", { name: en["nav.events"] }).click();
  const feed = page.getByTestId("events");
  await feed.locator("tr", { hasText: "member.enrolled" }).filter({ hasText: "erin" }).waitFor();
  await page.getByTestId("events-status").filter({ hasText: /^Live:/ }).waitFor();
  await page.getByLabel(en["events.member"], { exact: true }).fill("erin");
  await page.getByRole("button", { name: en["audit.filter"], exact: true }).click();
  await api("POST", "/v1/members/erin:earn", APP_KEY, { requestId: "erin-welcome", points: 25 });
  await feed.locator("tr", { hasText: "points.earned" }).filter({ hasText: "erin" }).waitFor();
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="events"] tbody tr')];
    return rows.length === 2 && rows.every((r) => r.textContent.includes("erin"));
  });
  await page.getByLabel(en["events.type"], { exact: true }).selectOption("points.earned");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="events"] tbody tr').length === 1);
  await shot("events");
  await page.getByLabel(en["events.type"], { exact: true }).selectOption("");
  await page.getByLabel(en["events.member"], { exact: true }).fill("");
  await page.getByRole("button", { name: en["audit.filter"], exact: true }).click();

  // The shop app's key on frank's page: a referral refused at its field (oneself),
  // then gina's recorded, pending until her first order is out of its return window;
  // a photo review earns the running campaign's 20 points once per key.
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  await signIn(APP_KEY);
  await page.goto(`${CONSOLE_URL}#/members/frank`);
  await page.getByRole("heading", { name: /Frank Zhao/ }).waitFor();
  const referrals = page.getByRole("region", { name: en["referrals.title"] });
  await referrals.getByText(en["referrals.none"]).waitFor();
  const referredField = referrals.getByLabel(en["referrals.referredId"], { exact: true });
  await referredField.fill("frank");
  await referredField.press("Enter");
  await page.locator("#ref-referredMemberId-error").waitFor();
  assert.equal(await referredField.getAttribute("aria-invalid"), "true");
  await referredField.fill("gina");
  await referrals.getByRole("button", { name: en["referrals.submit"], exact: true }).dblclick();
  await page.getByTestId("referral-result").filter({ hasText: /gina/ }).waitFor();
  const ginaRow = referrals.locator("tr", { hasText: "gina" });
  await ginaRow.getByText(en["referralStatus.PENDING"]).waitFor();
  await ginaRow.getByText(en["referrals.paidNothing"]).waitFor();
  assert.equal(await referrals.locator("tbody tr").count(), 1, "a double click records one referral");
  const activity = page.getByRole("region", { name: en["activity.title"] });
  const typeField = activity.getByLabel(en["activity.type"], { exact: true });
  // The types come from ListActivityTypes; the built-in ones are translated.
  await typeField.locator("option", { hasText: en["activityType.REVIEW_WITH_PHOTO"] }).waitFor({ state: "attached" });
  await typeField.selectOption("REVIEW_WITH_PHOTO");
  await activity.getByLabel(en["activity.key"], { exact: true }).fill("F1-line-1");
  await activity.getByRole("button", { name: en["activity.submit"], exact: true }).click();
  await page.getByTestId("activity-result").filter({ hasText: "Granted 20 points in all" }).waitFor();
  await available.filter({ hasText: "20" }).waitFor();
  await shot("referrals");
  // The same review again: the first answer, nothing more.
  await typeField.selectOption("REVIEW_WITH_PHOTO");
  await activity.getByLabel(en["activity.key"], { exact: true }).fill("F1-line-1");
  await activity.getByRole("button", { name: en["activity.submit"], exact: true }).click();
  await page.getByTestId("activity-result").filter({ hasText: en["activity.replayed"] }).waitFor();
  assert.equal(await availablePoints(), 20);
  // A share: no running campaign rewards it, and the answer says so.
  await typeField.selectOption("SHARE");
  await activity.getByRole("button", { name: en["activity.submit"], exact: true }).click();
  await page.getByTestId("activity-result").filter({ hasText: en["activityRefusal.NO_MATCHING_CAMPAIGN"] }).waitFor();
  await shot("activity-nothing");
  await page.getByRole("button", { name: en["app.signOut"] }).click();
  await signIn(ADMIN_KEY);

  await page.goto(`${CONSOLE_URL}#/members/alice`);
  await available.filter({ hasText: "1,550" }).waitFor();

  // Chinese: every string switches; the choice survives a reload, and so does the key.
  await page.getByLabel(en["app.language"], { exact: true }).selectOption("zh-CN");
  await page.getByRole("heading", { name: zh["balance.title"] }).waitFor();
  await page.reload();
  await page.getByRole("heading", { name: zh["balance.title"] }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
  // What people wrote (names, notes, the tier policy's names) is marked translate="no".
  await untranslated("member page");
  // The API's field error, in Chinese.
  await gw.getByLabel(zh["goodwill.points"], { exact: true }).fill("10");
  await gw.getByLabel(zh["goodwill.reason"], { exact: true }).selectOption("OTHER");
  await gw.getByRole("button", { name: zh["goodwill.submit"], exact: true }).click();
  await page.locator("#gw-ticketId-error").filter({ hasText: zh["apiField.required"] }).waitFor();
  await shot("member-zh");
  await page.getByRole("link", { name: zh["nav.approvals"] }).click();
  await page.getByRole("heading", { name: zh["approvals.title"] }).waitFor();
  await shot("approvals-zh");
  await page.goto(`${CONSOLE_URL}#/campaigns`);
  await page.getByRole("link", { name: "Double 11 double points" }).waitFor();
  await untranslated("campaign list");
  await shot("campaigns-zh");
  await page.goto(campaignURL);
  await page.locator("figure.chart svg").waitFor();
  await untranslated("campaign page");
  await shot("campaign-zh");
  await page.goto(`${CONSOLE_URL}#/campaigns/new`);
  await page.getByRole("heading", { name: zh["builder.title"] }).waitFor();
  await untranslated("campaign builder");
  await shot("campaign-builder-zh");
  await page.goto(`${CONSOLE_URL}#/liability`);
  await page.getByTestId("liability-chart").locator("svg rect").first().waitFor();
  await untranslated("liability report");
  await shot("liability-zh");
  await page.goto(`${CONSOLE_URL}#/settings`);
  const zhProgram = page.locator("form", { has: page.locator("#program-title") });
  await zhProgram.getByLabel(zh["program.earnPoints"], { exact: true }).fill("0");
  await zhProgram.getByRole("button", { name: zh["program.save"] }).click();
  await page.locator("#pg-earnPoints-error").filter({ hasText: zh["apiField.atLeast"].replace("{value}", "1") }).waitFor();
  await untranslated("settings");
  await shot("settings-zh");
  await page.goto(`${CONSOLE_URL}#/webhooks`);
  await page.getByTestId("webhooks").getByText(HOOK_URL).waitFor();
  await page.getByRole("button", { name: zh["webhooks.deliveriesOf"].replace("{url}", HOOK_URL) }).click();
  await page.getByTestId("deliveries").getByText(zh["deliveryStatus.SUCCEEDED"]).first().waitFor();
  await untranslated("webhooks");
  await shot("webhooks-zh");
  await page.goto(`${CONSOLE_URL}#/events`);
  await page.getByTestId("events").locator("tbody tr").first().waitFor();
  await untranslated("events");
  await shot("events-zh");
  await page.goto(`${CONSOLE_URL}#/members/frank`);
  await page.getByRole("region", { name: zh["referrals.title"] }).locator("tr", { hasText: "gina" }).waitFor();
  await untranslated("referrals");
  await shot("referrals-zh");

  // Phone width: the member page still fits.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${CONSOLE_URL}#/members/alice`);
  await available.filter({ hasText: "1,550" }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await shot("member-phone-zh");

  // A browser set to Chinese starts in Chinese; signing out forgets the key, not the language.
  await page.getByRole("button", { name: zh["app.signOut"] }).click();
  await page.getByRole("heading", { name: zh["signIn.title"] }).waitFor();
  const fresh = await browser.newContext({ locale: "zh-CN" });
  const zhPage = await fresh.newPage();
  await zhPage.goto(CONSOLE_URL);
  await zhPage.getByRole("heading", { name: zh["signIn.title"] }).waitFor();
  await fresh.close();

  assert.deepEqual(problems, []);
  console.log("walk passed");
} catch (err) {
  await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
  console.error(err);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
