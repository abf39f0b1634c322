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

test("an order's refund state", () => {
  for (const [order, want] of [
    [{}, "none"],
    [{ refundedMinor: "0", pointsTakenBack: "0" }, "none"],
    [{ refundedMinor: "5000" }, "partial"],
    [{ pointsTakenBack: "12" }, "partial"],
    [{ refundedMinor: "25900", fullyRefunded: true }, "full"],
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
