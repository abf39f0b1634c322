// Package tiers holds the tier policy (ordered tiers with thresholds on a metric over
// a rolling window, periods, grace, one-down, typed perks; DefaultPolicy is a fresh
// install's) and the pure qualification rules: Evaluate (upgrade at once, renewal,
// grace, downgrade at the period's end) and Effective (the better of the qualified
// and a paid tier). Storage, the metric, the downgrade job, perks and entitlements
// over the API are the rest of the tiers issue. Members start in the "member" tier.
package tiers

// DefaultTierID is the tier every member starts in.
const DefaultTierID = "member"
