package server_test

import (
	"net/http"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// ledger:verify is the full audit unless asked for the incremental one, which
// starts from the checkpoint the last verify saved and reads only the entries
// after it.
func TestVerifyLedgerIncrementalOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "vi")
	earn(t, env, app, "vi", "vi-1", 100)
	earn(t, env, app, "vi", "vi-2", 50)

	verify := func(query string) map[string]any {
		t.Helper()
		r := env.REST("GET", "/v1/ledger:verify"+query, auditor, nil)
		if r.Status != http.StatusOK || r.Body["ok"] != true {
			t.Fatalf("verify%s: %d %s", query, r.Status, r.Raw)
		}
		return r.Body
	}
	full := verify("")
	if full["full"] != true || full["entriesChecked"] != "2" || full["afterEntryId"] != "" || full["uptoEntryId"] != "2" {
		t.Fatalf("the default verify is not the full audit: %v", full)
	}
	earn(t, env, app, "vi", "vi-3", 25)
	inc := verify("?incremental=true")
	if inc["full"] != false || inc["entriesChecked"] != "1" || inc["afterEntryId"] != full["uptoEntryId"] {
		t.Errorf("incremental verify after one more entry: %v (the full one left %v)", inc, full["uptoEntryId"])
	}
	if again := verify("?incremental=false"); again["full"] != true || again["entriesChecked"] != "3" {
		t.Errorf("incremental=false is not the full audit: %v", again)
	}
	if r := env.REST("GET", "/v1/ledger:verify?incremental=maybe", auditor, nil); r.Status != http.StatusBadRequest {
		t.Errorf("incremental=maybe: %d %s", r.Status, r.Raw)
	}
}
