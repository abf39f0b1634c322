// Package tiers holds the tier policy (ordered tiers with thresholds on a metric over
// a rolling window, periods, grace, one-down, typed perks; DefaultPolicy is a fresh
// install's), the pure qualification rules (Evaluate: upgrade at once, renewal, grace,
// downgrade at the period's end; Effective: the better of the qualified and a paid
// tier), and the service that stores policies, member tiers, history, paid
// memberships and entitlements. The qualifying metric is moved by the ledger's write
// statement (tier_qualify, in the migrations), which also upgrades at once; the
// downgrade side runs in EvaluateDue, a job. See docs/TIERS.md.
package tiers
