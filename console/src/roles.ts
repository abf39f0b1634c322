// What each role may do, for the console to show only that. It copies the part of
// internal/server/roles.go the console uses; the server still decides every call.
export type Role = "admin" | "app" | "agent" | "marketer" | "auditor";

export type Ability =
  | "readMembers" // member, balance, statement, perks, coupons, orders
  | "checkEntitlements"
  | "consumeEntitlements"
  | "revokeCoupons"
  | "grantGoodwill"
  | "reportAfterSales"
  | "listApprovals"
  | "decideApprovals"
  | "manageKeys";

const abilities: Record<Role, Ability[]> = {
  admin: [
    "readMembers",
    "checkEntitlements",
    "consumeEntitlements",
    "revokeCoupons",
    "grantGoodwill",
    "reportAfterSales",
    "listApprovals",
    "decideApprovals",
    "manageKeys",
  ],
  agent: ["readMembers", "checkEntitlements", "consumeEntitlements", "revokeCoupons", "grantGoodwill", "reportAfterSales"],
  app: ["readMembers", "checkEntitlements", "consumeEntitlements", "reportAfterSales"],
  auditor: ["readMembers", "listApprovals"],
  marketer: [],
};

export function can(role: string, a: Ability): boolean {
  return (abilities[role as Role] ?? []).includes(a);
}
