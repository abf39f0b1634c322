package server_test

import (
	"slices"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// The REST side of bulk credits: an admin's bulk credit runs to the end and lists
// its failures; a marketer is refused one without a campaign to fund it, on REST
// and gRPC alike; bad input is a 400 naming the field.
func TestBulkCreditsREST(t *testing.T) {
	env := apitest.Start(t)
	admin, marketer, app := apitest.AdminKey, env.Key(access.RoleMarketer), env.Key(access.RoleApp)
	for _, id := range []string{"gold-1", "gold-2"} {
		must200(t, "enroll", env.REST("POST", "/v1/members", app, map[string]any{"memberId": id}))
	}
	body := map[string]any{"requestId": "bc-1", "points": 500, "reason": "Double 11 thank-you",
		"target": map[string]any{"members": []any{map[string]any{"memberId": "gold-1"}, map[string]any{"memberId": "gold-2", "points": "700"}, map[string]any{"memberId": "nobody"}}}}

	refused := env.REST("POST", "/v1/bulkCredits", marketer, body)
	if refused.Status != 403 {
		t.Fatalf("marketer without a campaign: %d %s, want 403", refused.Status, refused.Raw)
	}
	if r := env.REST("POST", "/v1/bulkCredits", app, body); r.Status != 403 {
		t.Fatalf("app key: %d, want 403", r.Status)
	}

	created := must200(t, "create", env.REST("POST", "/v1/bulkCredits", admin, body)).Body
	bc := obj(t, created["bulkCredit"])
	id, _ := bc["bulkCreditId"].(string)
	if id == "" || bc["status"] != "RUNNING" || num(t, bc["total"]) != 3 {
		t.Fatalf("created %v", bc)
	}
	if _, err := env.App.Bulk.Work(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := obj(t, must200(t, "get", env.REST("GET", "/v1/bulkCredits/"+id, marketer, nil)).Body["bulkCredit"])
	if got["status"] != "SUCCEEDED" || num(t, got["done"]) != 2 || num(t, got["failed"]) != 1 || num(t, got["pointsCredited"]) != 1200 {
		t.Fatalf("after the job: %v", got)
	}
	failures := must200(t, "failures", env.REST("GET", "/v1/bulkCredits/"+id+"/failures", admin, nil)).Body["failures"].([]any)
	if len(failures) != 1 || obj(t, failures[0])["memberId"] != "nobody" || obj(t, failures[0])["reason"] != "MEMBER_NOT_FOUND" {
		t.Fatalf("failures %v", failures)
	}
	if r := env.REST("POST", "/v1/bulkCredits/"+id+":pause", marketer, map[string]any{}); r.Status != 403 {
		t.Fatalf("marketer pausing an unfunded bulk credit: %d, want 403", r.Status)
	}
	if r := env.REST("POST", "/v1/bulkCredits/"+id+":pause", admin, map[string]any{}); r.Status != 400 && r.Status != 412 {
		t.Fatalf("pausing a finished bulk credit: %d %s, want a precondition failure", r.Status, r.Raw)
	}
	list := must200(t, "list", env.REST("GET", "/v1/bulkCredits", admin, nil)).Body["bulkCredits"].([]any)
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}

	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"points":       {map[string]any{"requestId": "x", "reason": "r", "target": map[string]any{"all": true}}, "points"},
		"target":       {map[string]any{"requestId": "x", "points": 1, "reason": "r"}, "target"},
		"rule":         {map[string]any{"requestId": "x", "points": 1, "reason": "r", "target": map[string]any{"rule": "member.tierId +"}}, "target.rule"},
		"tier":         {map[string]any{"requestId": "x", "points": 1, "reason": "r", "target": map[string]any{"tier": "diamond"}}, "target.tier"},
		"unknown camp": {map[string]any{"requestId": "x", "points": 1, "reason": "r", "target": map[string]any{"all": true}, "campaignId": "cmp_nope"}, "campaignId"},
	} {
		r := env.REST("POST", "/v1/bulkCredits", admin, tc.body)
		if r.Status != 400 || !slices.Contains(r.FieldViolations(), tc.field) {
			t.Errorf("%s: %d %v, want 400 naming %s", name, r.Status, r.FieldViolations(), tc.field)
		}
	}
	if r := env.REST("GET", "/v1/bulkCredits/abc", admin, nil); r.Status != 400 || !slices.Contains(r.FieldViolations(), "bulkCreditId") {
		t.Errorf("bad id: %d %v", r.Status, r.FieldViolations())
	}
	if r := env.REST("GET", "/v1/bulkCredits/999", admin, nil); r.Status != 404 {
		t.Errorf("unknown id: %d", r.Status)
	}
}
