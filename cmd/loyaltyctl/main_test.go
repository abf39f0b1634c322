package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestLoyaltyctlAgainstARealServer(t *testing.T) {
	env := apitest.Start(t)
	ctl := func(key string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		getenv := func(name string) string {
			switch name {
			case "LOYALTY_GRPC_ADDR":
				return env.GRPCAddr
			case "LOYALTY_API_KEY":
				return key
			}
			return ""
		}
		code := run(args, getenv, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, _ := ctl(apitest.AdminKey, "keys", "create", "--role", "app", "--name", "checkout")
	if code != exitOK {
		t.Fatalf("keys create: exit %d", code)
	}
	var created struct{ KeyID, Secret string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret == "" {
		t.Fatalf("keys create printed %q (%v)", out, err)
	}

	if code, out, _ = ctl(created.Secret, "members", "enroll", "zed", "--name", "Zed"); code != exitOK || !strings.Contains(out, `"memberId": "zed"`) {
		t.Fatalf("members enroll: exit %d, %s", code, out)
	}
	if code, out, _ = ctl(created.Secret, "members", "get", "zed"); code != exitOK || !strings.Contains(out, `"displayName": "Zed"`) {
		t.Fatalf("members get: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(created.Secret, "members", "get", "nobody"); code != exitError || !strings.Contains(errOut, "NOT_FOUND") {
		t.Errorf("unknown member: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(created.Secret, "members", "enroll", "bad id"); code != exitError || !strings.Contains(errOut, "memberId:") {
		t.Errorf("invalid member id: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(created.Secret, "keys", "list"); code != exitError || !strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("app key listing keys: exit %d, %q", code, errOut)
	}
	if code, _, _ := ctl(apitest.AdminKey, "keys", "revoke", created.KeyID); code != exitOK {
		t.Errorf("keys revoke: exit %d", code)
	}
	if code, _, errOut := ctl(created.Secret, "members", "get", "zed"); code != exitError || !strings.Contains(errOut, "UNAUTHENTICATED") {
		t.Errorf("revoked key: exit %d, %q", code, errOut)
	}
	if code, _, _ := ctl(apitest.AdminKey, "members", "frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := ctl(apitest.AdminKey, "members", "get"); code != exitUsage {
		t.Errorf("missing argument: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := ctl("", "members", "get", "zed"); code != exitUsage {
		t.Errorf("no key: exit %d, want %d", code, exitUsage)
	}
}
