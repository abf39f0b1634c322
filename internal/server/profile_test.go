package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

func TestMemberProfileOnEnrollAndPatch(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)

	r := env.REST("POST", "/v1/members", app, map[string]any{"memberId": "pat", "channel": "app",
		"birthday": map[string]any{"month": 2, "day": 29}, "attributes": map[string]any{"city": "Shanghai"}})
	if r.Status != http.StatusOK {
		t.Fatalf("enroll: %d %s", r.Status, r.Raw)
	}
	m := r.Body["member"].(map[string]any)
	if b := m["birthday"].(map[string]any); b["month"] != 2.0 || b["day"] != 29.0 || m["channel"] != "app" {
		t.Fatalf("enrolled profile: %v", m)
	}

	// A PATCH changes what it names: the channel stays, an attribute is added, one removed.
	r = env.REST("PATCH", "/v1/members/pat", app, map[string]any{"birthday": map[string]any{"month": 5, "day": 17, "year": 1990},
		"attributes": map[string]any{"city": "", "lang": "zh"}})
	if r.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Status, r.Raw)
	}
	got := env.REST("GET", "/v1/members/pat", app, nil).Body["member"].(map[string]any)
	attrs := got["attributes"].(map[string]any)
	if b := got["birthday"].(map[string]any); b["month"] != 5.0 || b["day"] != 17.0 || b["year"] != 1990.0 ||
		got["channel"] != "app" || attrs["lang"] != "zh" || attrs["city"] != nil {
		t.Fatalf("after patch: %v", got)
	}

	// Month 0 removes the birthday.
	r = env.REST("PATCH", "/v1/members/pat", app, map[string]any{"birthday": map[string]any{"month": 0}})
	if r.Status != http.StatusOK || r.Body["member"].(map[string]any)["birthday"] != nil {
		t.Fatalf("clear birthday: %d %s", r.Status, r.Raw)
	}

	for name, c := range map[string]struct {
		body  map[string]any
		field string
	}{
		"30 February":  {map[string]any{"birthday": map[string]any{"month": 2, "day": 30}}, "birthday.day"},
		"29 Feb 2001":  {map[string]any{"birthday": map[string]any{"month": 2, "day": 29, "year": 2001}}, "birthday.day"},
		"month 13":     {map[string]any{"birthday": map[string]any{"month": 13, "day": 1}}, "birthday.month"},
		"bad key":      {map[string]any{"attributes": map[string]any{"1x": "y"}}, "attributes"},
		"long channel": {map[string]any{"channel": "abcdefghijklmnopqrstuvwxyz0123456789"}, "channel"},
		"unknown":      {map[string]any{"channel": "x"}, ""},
	} {
		path := "/v1/members/pat"
		if c.field == "" {
			path = "/v1/members/nobody"
		}
		r := env.REST("PATCH", path, app, c.body)
		if c.field == "" {
			if r.Status != http.StatusNotFound {
				t.Errorf("%s: %d %s", name, r.Status, r.Raw)
			}
			continue
		}
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), c.field) {
			t.Errorf("%s: want 400 on %s, got %d %s", name, c.field, r.Status, r.Raw)
		}
	}
	if r := env.REST("PATCH", "/v1/members/pat", env.Key(access.RoleAuditor), map[string]any{"channel": "x"}); r.Status != http.StatusForbidden {
		t.Errorf("auditor patch: %d", r.Status)
	}
}
