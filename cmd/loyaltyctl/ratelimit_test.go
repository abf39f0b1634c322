package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/tlstest"
)

// loyaltyctl over TLS (--tls-ca) sets and shows a key's rate limit.
func TestLoyaltyctlOverTLSSetsAndShowsRateLimits(t *testing.T) {
	pair := tlstest.New(t)
	caFile, _ := pair.Files(t)
	env := apitest.Start(t, func(o *app.Options) { o.TLS = pair.Server })
	key, _, err := env.App.Keys.Create(context.Background(), access.CreateKey{Name: "shop", Role: "app"})
	if err != nil {
		t.Fatal(err)
	}
	ctl := func(vars map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		getenv := func(name string) string {
			switch name {
			case "LOYALTY_GRPC_ADDR":
				return env.GRPCAddr
			case "LOYALTY_API_KEY":
				return apitest.AdminKey
			}
			return vars[name]
		}
		code := run(append([]string{"--timeout", "5s"}, args...), getenv, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	withCA := map[string]string{"LOYALTY_TLS_CA": caFile}

	type limit struct {
		RateLimit struct {
			KeyID             string
			RequestsPerSecond int
			Burst             int
			RoleDefault       bool
		}
	}
	decode := func(out string) limit {
		t.Helper()
		var l limit
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("decode %q: %v", out, err)
		}
		return l
	}
	code, out, errOut := ctl(withCA, "keys", "set-rate-limit", key.ID, "--rps", "7", "--burst", "9")
	if code != exitOK {
		t.Fatalf("set-rate-limit: exit %d %s", code, errOut)
	}
	if l := decode(out); l.RateLimit.RequestsPerSecond != 7 || l.RateLimit.Burst != 9 || l.RateLimit.RoleDefault {
		t.Fatalf("set-rate-limit printed %s", out)
	}
	if code, out, _ := ctl(nil, "--tls-ca", caFile, "keys", "rate-limit", key.ID); code != exitOK || decode(out).RateLimit.Burst != 9 {
		t.Fatalf("rate-limit with --tls-ca: exit %d %s", code, out)
	}
	if code, out, _ := ctl(withCA, "keys", "set-rate-limit", key.ID, "--rps", "0"); code != exitOK || !decode(out).RateLimit.RoleDefault {
		t.Fatalf("back to the role default: exit %d %s", code, out)
	}
	if code, _, errOut := ctl(withCA, "keys", "set-rate-limit", key.ID, "--rps", "5", "--burst", "2000000"); code != exitError || !strings.Contains(errOut, "burst:") {
		t.Errorf("a burst too large: exit %d %q, want the field named", code, errOut)
	}
	if code, _, _ := ctl(withCA, "keys", "set-rate-limit", key.ID); code != exitUsage {
		t.Errorf("set-rate-limit without --rps: exit %d, want %d", code, exitUsage)
	}

	// Plain text, or TLS trusting the wrong roots, does not get through.
	if code, _, _ := ctl(nil, "keys", "rate-limit", key.ID); code != exitError {
		t.Errorf("plain text against TLS: exit %d, want %d", code, exitError)
	}
	if code, _, errOut := ctl(map[string]string{"LOYALTY_TLS": "1"}, "keys", "rate-limit", key.ID); code != exitError || !strings.Contains(errOut, "certificate") {
		t.Errorf("system roots against a self-signed server: exit %d %q", code, errOut)
	}
	if code, _, errOut := ctl(map[string]string{"LOYALTY_TLS_CA": filepath.Join(t.TempDir(), "none.pem")}, "keys", "rate-limit", key.ID); code != exitUsage || !strings.Contains(errOut, "TLS CA") {
		t.Errorf("a missing CA file: exit %d %q", code, errOut)
	}
}
