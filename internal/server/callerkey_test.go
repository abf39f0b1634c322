package server_test

import (
	"net/http"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

func TestCallerKeyAnswersTheRoleAndWhatIsLeftOfTheGoodwillLimit(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	env.REST("POST", "/v1/members", app, map[string]any{"memberId": "ck"})
	created := env.REST("POST", "/v1/apiKeys", apitest.AdminKey, map[string]any{"name": "desk", "role": "agent"})
	agent, agentID := created.Body["secret"].(string), created.Body["keyId"].(string)
	env.REST("PUT", "/v1/apiKeys/"+agentID+"/goodwillLimits", apitest.AdminKey, map[string]any{"perGrant": 100, "perDay": 150})

	allowance := func() map[string]any {
		t.Helper()
		r := env.REST("GET", "/v1/apiKeys/self", agent, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/apiKeys/self: %d %s", r.Status, r.Raw)
		}
		if key := r.Body["key"].(map[string]any); key["keyId"] != agentID || key["role"] != "agent" || key["name"] != "desk" {
			t.Errorf("the agent's own key: %s", r.Raw)
		}
		g, _ := r.Body["goodwill"].(map[string]any)
		if g == nil {
			t.Fatalf("an agent's key answers no goodwill allowance: %s", r.Raw)
		}
		return g
	}
	if g := allowance(); g["perGrant"] != "100" || g["perDay"] != "150" || g["remainingToday"] != "150" || g["dayEndTime"] == nil {
		t.Errorf("before any grant: %v", g)
	}
	grant := env.REST("POST", "/v1/members/ck:grantGoodwill", agent, map[string]any{"requestId": "a", "points": 100,
		"reasonCode": "LATE_DELIVERY", "ticketId": "T-1"})
	if grant.Status != http.StatusOK || grant.Body["entry"] == nil {
		t.Fatalf("grant: %d %s", grant.Status, grant.Raw)
	}
	if g := allowance(); g["grantedToday"] != "100" || g["remainingToday"] != "50" {
		t.Errorf("after granting 100 of 150: %v", g)
	}
	// Past the limit: the grant waits, and what is left does not change.
	env.REST("POST", "/v1/members/ck:grantGoodwill", agent, map[string]any{"requestId": "b", "points": 100,
		"reasonCode": "LATE_DELIVERY", "ticketId": "T-2"})
	if g := allowance(); g["remainingToday"] != "50" {
		t.Errorf("after a grant that waits: %v", g)
	}

	for _, c := range []struct {
		key, role string
	}{{apitest.AdminKey, "admin"}, {app, "app"}, {env.Key(access.RoleMarketer), "marketer"}, {env.Key(access.RoleAuditor), "auditor"}} {
		r := env.REST("GET", "/v1/apiKeys/self", c.key, nil)
		if r.Status != http.StatusOK || r.Body["key"].(map[string]any)["role"] != c.role || r.Body["goodwill"] != nil {
			t.Errorf("%s's own key: %d %s", c.role, r.Status, r.Raw)
		}
	}
	if r := env.REST("GET", "/v1/apiKeys/self", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("without a key: %d", r.Status)
	}
}
