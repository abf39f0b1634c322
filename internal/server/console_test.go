package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// The console is served beside the API, without a key (it asks for one), and only
// under /console/: a path that merely starts with "console" is the API's 404.
func TestConsoleIsServedBesideTheAPI(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	for _, path := range []string{"/console/", "/console"} {
		r := env.REST("GET", path, "", nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: %d %s %q", path, r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Security-Policy"))
		}
	}
	if r := env.REST("GET", "/consoles", "", nil); r.Status != http.StatusNotFound || r.Reason() != "NOT_FOUND" {
		t.Errorf("GET /consoles: %d %s, want the API's 404", r.Status, r.Raw)
	}
	if r := env.REST("POST", "/console/", apitest.AdminKey, map[string]any{}); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d", r.Status)
	}
}
