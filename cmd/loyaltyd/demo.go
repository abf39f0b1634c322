package main

import (
	"context"
	"fmt"
	"io"

	"github.com/loyalty-engine/loyalty/ledger"
)

// demoMembers are seeded by -demo. Enrolling is idempotent, so seeding on every
// start changes nothing after the first.
var demoMembers = []ledger.EnrollMember{
	{MemberID: "alice", DisplayName: "Alice Liddell"},
	{MemberID: "bob", DisplayName: "Bob Marley"},
	{MemberID: "chen.wei", DisplayName: "Chen Wei"},
}

// demoWelcome are welcome points, credited once (their request ids make repeats
// no-ops).
var demoWelcome = map[string]int64{"alice": 500, "bob": 120}

func seedDemo(ctx context.Context, l *ledger.Service) error {
	for _, m := range demoMembers {
		if _, _, err := l.Enroll(ctx, m); err != nil {
			return fmt.Errorf("seed demo member %s: %w", m.MemberID, err)
		}
	}
	for member, points := range demoWelcome {
		_, err := l.Earn(ctx, ledger.Actor{KeyID: "demo"}, ledger.Earn{
			MemberID: member, RequestID: "demo-welcome", Points: points, Reason: "welcome (demo data)"})
		if err != nil {
			return fmt.Errorf("seed demo points for %s: %w", member, err)
		}
	}
	return nil
}

func printDemo(w io.Writer, httpAddr, grpcAddr, adminKey string) {
	base := "http://" + httpAddr
	fmt.Fprintf(w, `
loyaltyd is running with demo data.
  Console  %[1]s/console/   (sign in with the admin key)
  REST     %[1]s   (OpenAPI: %[1]s/openapi.json)
  gRPC     %[2]s
  admin key: %[3]s

Try:
  export KEY=%[3]s
  curl -s -H "Authorization: Bearer $KEY" %[1]s/v1/members/alice
  curl -s -H "Authorization: Bearer $KEY" -d '{"requestId":"try-1","orderId":"A100","spend":{"amountMinor":25900,"currency":"CNY"}}' %[1]s/v1/members/alice:earn
  curl -s -H "Authorization: Bearer $KEY" %[1]s/v1/members/alice/balance

  # time travel (demo mode): close the 7-day return window, then refund a part
  curl -s -H "Authorization: Bearer $KEY" -d '{"days":8}' %[1]s/v1/clock:advance
  curl -s -H "Authorization: Bearer $KEY" -d '{"requestId":"try-refund-1","memberId":"alice","refundAmountMinor":5000}' %[1]s/v1/orders/A100:refund
  curl -s -H "Authorization: Bearer $KEY" %[1]s/v1/reports/liability

  # tiers: a gold member's perks and progress, and a quota perk
  curl -s -H "Authorization: Bearer $KEY" -d '{"requestId":"try-2","orderId":"A101","spend":{"amountMinor":600000,"currency":"CNY"}}' %[1]s/v1/members/bob:earn
  curl -s -H "Authorization: Bearer $KEY" %[1]s/v1/members/bob/perks
  curl -s -H "Authorization: Bearer $KEY" -d '{"requestId":"try-3"}' %[1]s/v1/members/bob/entitlements/freeReturnPickups:consume

  ./bin/loyaltyctl --key $KEY points activity alice
  (more in README.md: redeem, holds, reversals, refunds, lots, expiry, tiers, memberships,
   campaigns, coupons, after-sales compensation, verify)

Ctrl-C stops the server and its PostgreSQL; the data stays in .data/.

`, base, grpcAddr, adminKey)
}
