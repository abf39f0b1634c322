package server_test

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// Compensations racing earnings of the same members go through the group commit
// with them: the points, the coupons and the outcome of each compensated event
// commit in one transaction with its audit record, a coupon-only one included;
// an event that matched nothing and a repeat are recorded once each, as calls;
// and compensations share batches (transactions) with earnings.
func TestCompensationsRideTheGroupCommitWithTheirAuditRecords(t *testing.T) {
	env := apitest.Start(t)
	marketer, app, agent, auditor := env.Key(access.RoleMarketer), env.Key(access.RoleApp), env.Key(access.RoleAgent), env.Key(access.RoleAuditor)
	const members = 6
	for m := range members {
		enroll(t, env, app, fmt.Sprintf("cb-%d", m))
	}
	late := createCampaign(t, env, marketer, map[string]any{"displayName": "Late delivery points", "type": "COMPENSATION",
		"compensation": map[string]any{"eventTypes": []string{"LATE_DELIVERY"}, "points": 50}})
	damaged := createCampaign(t, env, marketer, map[string]any{"displayName": "Damaged item coupon", "type": "COMPENSATION",
		"compensation": map[string]any{"eventTypes": []string{"DAMAGED_ITEM"}},
		"coupon":       map[string]any{"kind": "FREE_SHIPPING", "validDays": 30}})
	campaignDo(t, env, marketer, late["campaignId"].(string), "activate")
	campaignDo(t, env, marketer, damaged["campaignId"].(string), "activate")

	report := func(requestID, member, typ string) {
		must200(t, "after-sales event", env.REST("POST", "/v1/afterSalesEvents", agent, map[string]any{
			"requestId": requestID, "memberId": member, "orderId": "o-" + member, "type": typ, "delayHours": 1}))
	}
	var wg sync.WaitGroup
	for m := range members {
		member := fmt.Sprintf("cb-%d", m)
		for _, ev := range []struct{ id, typ string }{
			{"late-" + member, "LATE_DELIVERY"}, {"late-" + member, "LATE_DELIVERY"}, // and its repeat
			{"dmg-" + member, "DAMAGED_ITEM"}, {"wrong-" + member, "WRONG_ITEM"},
		} {
			wg.Go(func() { report(ev.id, member, ev.typ) })
		}
		for i := range 4 {
			wg.Go(func() {
				must200(t, "earn", env.REST("POST", "/v1/members/"+member+":earn", app,
					map[string]any{"requestId": fmt.Sprintf("earn-%s-%d", member, i), "points": 10}))
			})
		}
	}
	wg.Wait()

	for m := range members {
		member := fmt.Sprintf("cb-%d", m)
		if b := balanceOf(t, env, app, member); b.available != 50+40 {
			t.Errorf("%s has %d available, want 50 (compensated once) + 40 (earned)", member, b.available)
		}
		var coupons int
		if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM coupons WHERE member_id = $1`, member).Scan(&coupons); err != nil {
			t.Fatal(err)
		}
		if coupons != 1 {
			t.Errorf("%s has %d coupons, want the damaged item's one", member, coupons)
		}
	}

	// Each call is recorded once: 4 events (one a repeat) per member.
	records := auditLog(t, env, auditor, url.Values{"method": {loyaltyv1.AfterSalesService_ReportAfterSalesEvent_FullMethodName}})
	byRequest := map[string]int{}
	for _, r := range records {
		byRequest[r["requestId"].(string)]++
	}
	for m := range members {
		member := fmt.Sprintf("cb-%d", m)
		for id, want := range map[string]int{"late-" + member: 2, "dmg-" + member: 1, "wrong-" + member: 1} {
			if byRequest[id] != want {
				t.Errorf("%s: %d audit records, want %d", id, byRequest[id], want)
			}
		}
	}
	// A compensated event's record, its outcome and its effects commit together.
	var outcomes, withRecord int
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*),
		count(*) FILTER (WHERE EXISTS (SELECT 1 FROM audit_log a WHERE a.request_id = e.request_id AND a.xmin::text = e.xmin::text))
		FROM after_sales_events e WHERE e.member_id LIKE 'cb-%'`).Scan(&outcomes, &withRecord); err != nil {
		t.Fatal(err)
	}
	if outcomes != 2*members || withRecord != outcomes {
		t.Errorf("%d outcomes recorded (want %d), %d of them in their audit record's transaction", outcomes, 2*members, withRecord)
	}
	// Compensations and earnings share transactions (the group commit's batches):
	// rounds of them racing, until one shares (timing decides which do).
	shared := 0
	for round := 0; shared == 0 && round < 20; round++ {
		for m := range members {
			member := fmt.Sprintf("cb-%d", m)
			wg.Go(func() {
				must200(t, "after-sales event", env.REST("POST", "/v1/afterSalesEvents", agent, map[string]any{
					"requestId": fmt.Sprintf("r%d-%s", round, member), "memberId": member, "orderId": fmt.Sprintf("r%d", round),
					"type": "LATE_DELIVERY"}))
			})
			wg.Go(func() {
				must200(t, "earn", env.REST("POST", "/v1/members/"+member+":earn", app,
					map[string]any{"requestId": fmt.Sprintf("r%d-earn-%s", round, member), "points": 10}))
			})
		}
		wg.Wait()
		if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM entries c
			WHERE c.kind = 'CAMPAIGN' AND c.member_id LIKE 'cb-%' AND EXISTS (
			  SELECT 1 FROM entries o WHERE o.kind = 'EARN' AND o.xmin::text = c.xmin::text)`).Scan(&shared); err != nil {
			t.Fatal(err)
		}
	}
	if shared == 0 {
		t.Errorf("in 20 rounds, no compensation entry was committed in a batch with an earning")
	}
	verifyOK(t, env)
}
