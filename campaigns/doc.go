// Package campaigns will hold campaigns, budgets, coupons and after-sales
// compensation (issue: campaigns, coupons and after-sales compensation).
package campaigns
