// What each role may do, for the console to show only that. It copies the part of
// internal/server/roles.go the console uses; the server still decides every call.
export type Role = "admin" | "app" | "agent" | "marketer" | "auditor";

export type Ability =
  | "readMembers" // member, balance, statement, perks, entitlements, coupons, orders
  | "consumeEntitlements"
  | "revokeCoupons"
  | "grantGoodwill"
  | "reportAfterSales"
  | "readReferrals" // whom a member referred (ListReferrals)
  | "recordReferrals" // RecordReferral: the shop's app (and admin)
  | "recordActivities" // RecordActivity: the shop's app (and admin)
  | "listApprovals"
  | "listOwnApprovals" // an agent's own goodwill requests (ListOwnApprovals)
  | "decideApprovals"
  | "manageKeys"
  | "readCampaigns" // list, campaign, stats
  | "manageCampaigns" // build, check a rule, simulate, activate, pause, end
  | "readLiability" // the liability report and the ledger's verification
  | "readAudit"
  | "editSettings" // the program settings and the tier policy
  | "manageWebhooks" // endpoints, their deliveries
  | "readEvents"; // the event feed

const abilities: Record<Role, Ability[]> = {
  admin: [
    "readMembers",
    "consumeEntitlements",
    "revokeCoupons",
    "grantGoodwill",
    "reportAfterSales",
    "readReferrals",
    "recordReferrals",
    "recordActivities",
    "listApprovals",
    "decideApprovals",
    "manageKeys",
    "readCampaigns",
    "manageCampaigns",
    "readLiability",
    "readAudit",
    "editSettings",
    "manageWebhooks",
    "readEvents",
  ],
  agent: [
    "readMembers",
    "consumeEntitlements",
    "revokeCoupons",
    "grantGoodwill",
    "listOwnApprovals",
    "reportAfterSales",
    "readReferrals",
  ],
  app: ["readMembers", "consumeEntitlements", "reportAfterSales", "readReferrals", "recordReferrals", "recordActivities"],
  auditor: ["readMembers", "readReferrals", "listApprovals", "readCampaigns", "readLiability", "readAudit", "readEvents"],
  marketer: ["readCampaigns", "manageCampaigns"],
};

export function can(role: string, a: Ability): boolean {
  return (abilities[role as Role] ?? []).includes(a);
}
