// The console's pure rules, with no DOM, no framework and no state, so that
// test/logic.test.mjs runs them under node: routes, the language to start in, the
// statement's filter as a query, an order's refund state.
import type { definitions } from "./api/schema";

export type Route = { name: "find" } | { name: "member"; memberId: string } | { name: "approvals" } | { name: "keys" };

/** parseRoute reads the screen from the URL's fragment (#/members/alice). */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "members" && parts[1]) return { name: "member", memberId: parts[1] };
  if (parts[0] === "approvals") return { name: "approvals" };
  if (parts[0] === "keys") return { name: "keys" };
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

/** refundState names how much of an order was refunded. */
export function refundState(o: definitions["v1Order"]): "full" | "partial" | "none" {
  if (o.fullyRefunded) return "full";
  if ((o.refundedMinor && o.refundedMinor !== "0") || (o.pointsTakenBack && o.pointsTakenBack !== "0")) return "partial";
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
