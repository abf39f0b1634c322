package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// bringAFriend is a REFERRAL campaign: 200 points to the referrer, 100 to the
// member referred, one referral a month per referrer.
const bringAFriend = `{"displayName": "Bring a friend", "type": "REFERRAL",
 "referral": {"referrerPoints": 200, "referredPoints": 100, "caps": {"perReferrerPerMonth": 1}},
 "budget": {"points": 100000}}`

// A referral over REST: recorded once (a repeat is replayed), refusals name their
// field and status, and the list shows it PENDING while the referred member's
// first order is inside its return window (the payout: campaigns/referral_test.go).
func TestReferralOverREST(t *testing.T) {
	env := apitest.Start(t)
	app, marketer := env.Key(access.RoleApp), env.Key(access.RoleMarketer)
	c := createCampaign(t, env, marketer, bringAFriend)
	if ref, _ := c["referral"].(map[string]any); num(t, ref["referrerPoints"]) != 200 || num(t, ref["referredPoints"]) != 100 {
		t.Fatalf("campaign answered %v", c)
	}
	id := c["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	for _, m := range []string{"rita", "ned", "olga", "bob"} {
		enroll(t, env, app, m)
	}
	record := func(referrer, requestID, referred string) apitest.Response {
		return env.REST("POST", "/v1/members/"+referrer+"/referrals", app, map[string]any{"requestId": requestID, "referredMemberId": referred})
	}
	first := must200(t, "refer", record("rita", "ref-1", "ned"))
	if r := first.Body["referral"].(map[string]any); r["status"] != "PENDING" || r["referredMemberId"] != "ned" || first.Body["replayed"] == true {
		t.Fatalf("first: %s", first.Raw)
	}
	if again := must200(t, "repeat", record("rita", "ref-1", "ned")); again.Body["replayed"] != true {
		t.Fatalf("repeat: %s", again.Raw)
	}
	must200(t, "earn", env.REST("POST", "/v1/members/bob:earn", app, map[string]any{"requestId": "bob-1", "points": 10, "orderId": "b1"}))
	for _, tc := range []struct {
		name, referrer, requestID, referred string
		status                              int
		reason, field                       string
	}{
		{"a second referrer", "olga", "ref-2", "ned", http.StatusConflict, "ALREADY_REFERRED", "referredMemberId"},
		{"oneself", "rita", "ref-3", "rita", http.StatusBadRequest, "INVALID_ARGUMENT", "referredMemberId"},
		{"after the first order", "rita", "ref-4", "bob", http.StatusBadRequest, "ALREADY_ORDERED", "referredMemberId"},
		{"an unknown referred member", "rita", "ref-5", "nobody", http.StatusNotFound, "MEMBER_NOT_FOUND", "referredMemberId"},
		{"an unknown referrer", "nobody", "ref-6", "olga", http.StatusNotFound, "MEMBER_NOT_FOUND", "memberId"},
		{"a bad member id", "rita", "ref-7", "no spaces", http.StatusBadRequest, "INVALID_ARGUMENT", "referredMemberId"},
	} {
		checkRefusal(t, tc.name, record(tc.referrer, tc.requestID, tc.referred), tc.status, tc.reason, tc.field)
	}
	list := func() []any {
		r := must200(t, "list", env.REST("GET", "/v1/members/rita/referrals?pageSize=10", app, nil))
		return r.Body["referrals"].([]any)
	}
	if l := list(); len(l) != 1 || l[0].(map[string]any)["status"] != "PENDING" {
		t.Fatalf("list: %v", l)
	}

	// The program's return window is 7 days: the job pays nothing yet.
	must200(t, "earn", env.REST("POST", "/v1/members/ned:earn", app, map[string]any{"requestId": "ned-1", "points": 50, "orderId": "n1"}))
	if n, err := env.App.Campaigns.PayReferrals(context.Background(), 10); err != nil || n != 0 {
		t.Fatalf("inside the window: %d, %v", n, err)
	}
	if l := list(); l[0].(map[string]any)["status"] != "PENDING" {
		t.Fatalf("list inside the window: %v", l)
	}
}
