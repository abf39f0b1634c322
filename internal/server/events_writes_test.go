package server_test

import (
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// A member's life through the API, one call of each kind that changes something:
// each writes its events with its change, and the feed gives the member's events
// in the order they happened, numbered 1, 2, 3, ... The campaigns' status changes
// are events of no member.
func TestEveryChangeWritesItsEvents(t *testing.T) {
	env := apitest.Start(t)
	app, agent, marketer, auditor := env.Key(access.RoleApp), env.Key(access.RoleAgent), env.Key(access.RoleMarketer), env.Key(access.RoleAuditor)
	admin := apitest.AdminKey
	const m = "eve"
	enroll(t, env, app, m)
	earn(t, env, app, m, "e-1", 500)
	must200(t, "redeem", env.REST("POST", "/v1/members/"+m+":redeem", app, map[string]any{"requestId": "r-1", "points": 100}))
	hold := must200(t, "hold", env.REST("POST", "/v1/members/"+m+"/holds", app, map[string]any{"requestId": "h-1", "points": 50, "ttl": "600s"})).Body
	holdID := obj(t, hold["hold"])["holdId"].(string)
	must200(t, "capture", env.REST("POST", "/v1/holds/"+holdID+":capture", app, map[string]any{"requestId": "c-1"}))
	goodwill := func(id string, points int) map[string]any {
		return must200(t, "goodwill", env.REST("POST", "/v1/members/"+m+":grantGoodwill", agent, map[string]any{
			"requestId": id, "points": points, "reasonCode": "DAMAGED_ITEM", "ticketId": "ZD-" + id})).Body
	}
	goodwill("g-1", 100)
	approval := obj(t, goodwill("g-2", 5000)["approval"])["approvalId"].(string) // above the agent's limit
	must200(t, "approve", env.REST("POST", "/v1/approvals/"+approval+":approve", admin, map[string]any{}))
	ms := buyMembership(t, env, app, m, "gold-1", "gold")
	must200(t, "cancel", env.REST("POST", "/v1/members/"+m+"/memberships/"+ms["membershipId"].(string)+":cancel", app, nil))

	drop := createCampaign(t, env, marketer, map[string]any{"displayName": "Drop", "type": "COUPON_DROP",
		"coupon": map[string]any{"kind": "FREE_SHIPPING", "validDays": 30}})
	dropID := drop["campaignId"].(string)
	campaignDo(t, env, marketer, dropID, "activate")
	code := must200(t, "issue", env.REST("POST", "/v1/members/"+m+"/coupons", app, map[string]any{"requestId": "cp-1", "campaignId": dropID})).Body["code"].(string)
	must200(t, "redeem coupon", env.REST("POST", "/v1/coupons/"+code+":redeem", app, map[string]any{"requestId": "cr-1", "memberId": m, "orderId": "o-9"}))
	late := createCampaign(t, env, marketer, map[string]any{"displayName": "Late", "type": "COMPENSATION",
		"compensation": map[string]any{"eventTypes": []string{"LATE_DELIVERY"}, "points": 30}})
	campaignDo(t, env, marketer, late["campaignId"].(string), "activate")
	must200(t, "compensate", env.REST("POST", "/v1/afterSalesEvents", agent, map[string]any{
		"requestId": "late-1", "memberId": m, "orderId": "o-9", "type": "LATE_DELIVERY"}))
	campaignDo(t, env, marketer, dropID, "pause")

	want := []string{
		"member.enrolled", "points.earned", "points.redeemed", "hold.placed", "hold.captured",
		"points.goodwill", "approval.requested", "points.goodwill", "approval.decided",
		"membership.purchased", "membership.cancelled",
		"coupon.issued", "coupon.redeemed",
		"points.compensated", "compensation.granted",
	}
	got, _ := feedREST(t, env, auditor, url.Values{"memberId": {m}}, len(want))
	var types []string
	for i, ev := range got {
		types = append(types, ev["type"].(string))
		if seq, _ := strconv.Atoi(ev["memberSeq"].(string)); seq != i+1 {
			t.Errorf("event %d (%s) is the member's number %v", i, ev["type"], ev["memberSeq"])
		}
	}
	if !slices.Equal(types, want) {
		t.Fatalf("the member's events:\n%v\nwant\n%v", types, want)
	}
	earned := obj(t, got[1]["data"])
	if earned["entryId"] == "" || num(t, earned["points"]) != 500 || num(t, earned["available"]) != 500 || earned["requestId"] != "e-1" {
		t.Errorf("points.earned data %v", earned)
	}
	if d := obj(t, got[8]["data"]); d["approvalId"] != approval || d["decision"] != "APPROVED" || d["entryId"] == "" {
		t.Errorf("approval.decided data %v", d)
	}
	if d := obj(t, got[13]["data"]); d["campaignId"] != late["campaignId"] || num(t, d["points"]) != 30 {
		t.Errorf("points.compensated data %v", d)
	}

	statuses, _ := feedREST(t, env, auditor, url.Values{"types": {"campaign.status_changed"}}, 3)
	var moves []string
	for _, ev := range statuses {
		d := obj(t, ev["data"])
		moves = append(moves, d["fromStatus"].(string)+">"+d["status"].(string))
		if ev["memberId"] != nil && ev["memberId"] != "" {
			t.Errorf("a campaign's event names member %v", ev["memberId"])
		}
	}
	if !slices.Equal(moves, []string{"DRAFT>ACTIVE", "DRAFT>ACTIVE", "ACTIVE>PAUSED"}) {
		t.Errorf("campaign status events %v", moves)
	}
}
