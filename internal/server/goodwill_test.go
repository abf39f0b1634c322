package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

func TestGoodwillFlowOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	env.REST("POST", "/v1/members", app, map[string]any{"memberId": "gw"})
	created := env.REST("POST", "/v1/apiKeys", apitest.AdminKey, map[string]any{"name": "desk", "role": "agent"})
	agent, agentID := created.Body["secret"].(string), created.Body["keyId"].(string)

	limits := env.REST("PUT", "/v1/apiKeys/"+agentID+"/goodwillLimits", apitest.AdminKey, map[string]any{"perGrant": 100, "perDay": 150})
	if limits.Status != http.StatusOK || limits.Body["limits"].(map[string]any)["perDay"] != "150" {
		t.Fatalf("set limits: %d %s", limits.Status, limits.Raw)
	}
	if r := env.REST("PUT", "/v1/apiKeys/"+agentID+"/goodwillLimits", agent, map[string]any{"perGrant": 1e6, "perDay": 1e6}); r.Status != http.StatusForbidden {
		t.Errorf("agent raised its own limits: %d", r.Status)
	}

	body := func(id string, points int) map[string]any {
		return map[string]any{"requestId": id, "points": points, "reasonCode": "DAMAGED_ITEM", "ticketId": "ZD-" + id, "note": "box crushed"}
	}
	first := env.REST("POST", "/v1/members/gw:grantGoodwill", agent, body("a", 100))
	entry, _ := first.Body["entry"].(map[string]any)
	if first.Status != http.StatusOK || entry == nil || entry["reasonCode"] != "DAMAGED_ITEM" || entry["ticketId"] != "ZD-a" || entry["actorKeyId"] != agentID {
		t.Fatalf("grant within limits: %d %s", first.Status, first.Raw)
	}
	second := env.REST("POST", "/v1/members/gw:grantGoodwill", agent, body("b", 100))
	approval, _ := second.Body["approval"].(map[string]any)
	if second.Status != http.StatusOK || approval == nil || approval["status"] != "PENDING" || second.Body["entry"] != nil {
		t.Fatalf("grant past the daily limit: %d %s", second.Status, second.Raw)
	}
	id := approval["approvalId"].(string)
	if r := env.REST("POST", "/v1/approvals/"+id+":approve", agent, map[string]any{}); r.Status != http.StatusForbidden {
		t.Errorf("an agent approved: %d", r.Status)
	}
	approved := env.REST("POST", "/v1/approvals/"+id+":approve", apitest.AdminKey, map[string]any{})
	if approved.Status != http.StatusOK || approved.Body["approval"].(map[string]any)["status"] != "APPROVED" {
		t.Fatalf("approve: %d %s", approved.Status, approved.Raw)
	}
	if r := env.REST("POST", "/v1/approvals/"+id+":reject", apitest.AdminKey, map[string]any{}); r.Status != http.StatusBadRequest || r.Reason() != "APPROVAL_NOT_PENDING" {
		t.Errorf("rejecting an approved grant: %d %s", r.Status, r.Raw)
	}
	list := env.REST("GET", "/v1/approvals?status=APPROVED", auditor, nil)
	if items, _ := list.Body["approvals"].([]any); list.Status != http.StatusOK || len(items) != 1 {
		t.Errorf("auditor's approval list: %d %s", list.Status, list.Raw)
	}
	bad := env.REST("POST", "/v1/members/gw:grantGoodwill", agent, map[string]any{"requestId": "c", "points": 10, "reasonCode": "BORED"})
	if bad.Status != http.StatusBadRequest || !slices.Contains(bad.FieldViolations(), "reasonCode") || !slices.Contains(bad.FieldViolations(), "ticketId") {
		t.Errorf("bad grant: %d %s", bad.Status, bad.Raw)
	}
	if bal := env.REST("GET", "/v1/members/gw/balance", app, nil); bal.Body["available"] != "200" {
		t.Errorf("balance %s, want 200", bal.Raw)
	}
	if v := env.REST("GET", "/v1/ledger:verify", auditor, nil); v.Body["ok"] != true {
		t.Errorf("verify: %s", v.Raw)
	}
}
