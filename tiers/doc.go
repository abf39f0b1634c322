// Package tiers will hold the tier policy, qualification, perks and entitlements
// (issue: tiers, perks and entitlements). Members start in the "member" tier.
package tiers

// DefaultTierID is the tier every member starts in.
const DefaultTierID = "member"
