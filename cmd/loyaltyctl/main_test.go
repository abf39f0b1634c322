package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/ledger"
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
	if code, out, _ := ctl(apitest.AdminKey, "points", "earn", "zed", "--spend", "2590", "--currency", "CNY", "--order-id", "o-9"); code != exitOK || !strings.Contains(out, `"points": "25"`) {
		t.Errorf("earn from spend: exit %d, %s", code, out)
	}
	if code, out, _ := ctl(apitest.AdminKey, "program", "get"); code != exitOK || !strings.Contains(out, `"earnPerAmountMinor": "100"`) {
		t.Errorf("program get: exit %d, %s", code, out)
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

func TestLoyaltyctlPointsAndLedger(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
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
	// entry decodes the entry printed by earn or redeem.
	type entry struct {
		EntryID, Kind, RequestID, OrderID, Points, BalanceAfter string
	}
	printed := func(out string) entry {
		t.Helper()
		var resp struct{ Entry entry }
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("not JSON: %q (%v)", out, err)
		}
		return resp.Entry
	}

	if code, _, errOut := ctl(app, "members", "enroll", "yan"); code != exitOK {
		t.Fatalf("members enroll: exit %d, %s", code, errOut)
	}

	// No return window: points earned on orders are available at once.
	if _, err := env.App.Ledger.UpdateProgram(context.Background(), ledger.Actor{}, ledger.Program{EarnPoints: 1, EarnPerAmountMinor: 100,
		ExpiryKind: ledger.ExpiryEndOfFollowingYear, PointsPerUnit: 100, TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := ctl(app, "points", "earn", "yan", "--points", "120", "--request-id", "ctl-earn-1", "--order-id", "o-1")
	if code != exitOK {
		t.Fatalf("points earn: exit %d, %s", code, errOut)
	}
	first := printed(out)
	if first.Kind != "EARN" || first.Points != "120" || first.BalanceAfter != "120" || first.RequestID != "ctl-earn-1" || first.OrderID != "o-1" {
		t.Errorf("points earn printed %+v", first)
	}
	// The same request id again: the same entry, credited once.
	if code, out, _ := ctl(app, "points", "earn", "yan", "--points", "120", "--request-id", "ctl-earn-1", "--order-id", "o-1"); code != exitOK || printed(out).EntryID != first.EntryID {
		t.Errorf("repeated points earn: exit %d, %s", code, out)
	}
	// Without --request-id a random one is made up, so each call is a new earning.
	code, out, _ = ctl(app, "points", "earn", "yan", "--points", "5")
	random := printed(out)
	if code != exitOK || random.RequestID == "" || random.EntryID == first.EntryID || random.BalanceAfter != "125" {
		t.Errorf("points earn without --request-id: exit %d, %+v", code, random)
	}
	if code, out, _ := ctl(app, "points", "earn", "yan", "--points", "5"); code != exitOK || printed(out).RequestID == random.RequestID {
		t.Errorf("two earns without --request-id shared request id %q", random.RequestID)
	}

	code, out, errOut = ctl(auditor, "points", "balance", "yan")
	var balance struct{ MemberID, Available, Pending, Held string }
	if err := json.Unmarshal([]byte(out), &balance); code != exitOK || err != nil {
		t.Fatalf("points balance: exit %d, %q %s", code, out, errOut)
	}
	if balance.MemberID != "yan" || balance.Available != "130" || balance.Pending != "0" || balance.Held != "0" {
		t.Errorf("points balance printed %+v, want 130 available", balance)
	}

	code, out, errOut = ctl(app, "points", "redeem", "yan", "--points", "131", "--request-id", "ctl-redeem-1")
	if code != exitError || !strings.Contains(errOut, "FAILED_PRECONDITION") || !strings.Contains(errOut, "INSUFFICIENT_POINTS") || out != "" {
		t.Errorf("redeem over the balance: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := ctl(app, "points", "redeem", "yan", "--points", "30", "--request-id", "ctl-redeem-1"); code != exitOK || printed(out).BalanceAfter != "100" || printed(out).Kind != "REDEEM" {
		t.Errorf("points redeem: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(app, "points", "redeem", "yan", "--request-id", "ctl-redeem-2"); code != exitError || !strings.Contains(errOut, "points:") {
		t.Errorf("redeem without --points: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(app, "points", "earn", "nobody", "--points", "1"); code != exitError || !strings.Contains(errOut, "MEMBER_NOT_FOUND") {
		t.Errorf("earn for an unknown member: exit %d, %q", code, errOut)
	}

	// The statement, page by page.
	var ids []string
	token := ""
	for pages := 0; pages < 10; pages++ {
		args := []string{"points", "activity", "yan", "--page-size", "2"}
		if token != "" {
			args = append(args, "--page-token", token)
		}
		code, out, errOut := ctl(app, args...)
		var page struct {
			Entries       []entry
			NextPageToken string
		}
		if err := json.Unmarshal([]byte(out), &page); code != exitOK || err != nil || len(page.Entries) > 2 {
			t.Fatalf("points activity: exit %d, %q %s", code, out, errOut)
		}
		for _, e := range page.Entries {
			ids = append(ids, e.EntryID)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(ids) != 4 || ids[3] != first.EntryID {
		t.Errorf("activity walked %v, want 4 entries ending with the first earn %s", ids, first.EntryID)
	}
	if code, _, errOut := ctl(app, "points", "activity", "yan", "--page-token", "nonsense"); code != exitError || !strings.Contains(errOut, "pageToken:") {
		t.Errorf("bad page token: exit %d, %q", code, errOut)
	}

	code, out, errOut = ctl(auditor, "ledger", "verify")
	if code != exitOK || !strings.Contains(out, `"ok": true`) || !strings.Contains(out, `"postingsSum": "0"`) {
		t.Errorf("ledger verify: exit %d, %s %s", code, out, errOut)
	}
	if code, _, errOut := ctl(app, "ledger", "verify"); code != exitError || !strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("ledger verify with an app key: exit %d, %q", code, errOut)
	}

	// Command-line mistakes.
	for _, args := range [][]string{
		{"points", "earn", "--points", "1"},
		{"points", "balance"},
		{"points", "balance", "a", "b"},
		{"ledger", "verify", "extra"},
	} {
		if code, _, _ := ctl(app, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	var help bytes.Buffer
	run([]string{"--help"}, func(string) string { return "" }, &help, &help)
	if !strings.Contains(help.String(), "points earn") || !strings.Contains(help.String(), "ledger verify") {
		t.Errorf("usage does not list the new commands:\n%s", help.String())
	}
	help.Reset()
	run([]string{"--key", "k", "points", "earn", "--help"}, func(string) string { return "" }, &help, &help)
	if !strings.Contains(help.String(), "-request-id") || !strings.Contains(help.String(), "retr") {
		t.Errorf("points earn --help does not explain --request-id and retries:\n%s", help.String())
	}
}

// A flag the command does not know, or a flag value that does not parse, is a
// mistake on the command line like a missing argument: exit 2 (exitUsage), not 1,
// which means the server refused or failed. Nothing is sent to the server.
func TestLoyaltyctlBadFlagIsAUsageError(t *testing.T) {
	getenv := func(name string) string {
		if name == "LOYALTY_GRPC_ADDR" {
			return "127.0.0.1:1" // never reached: the command line is wrong
		}
		if name == "LOYALTY_API_KEY" {
			return "k"
		}
		return ""
	}
	for _, args := range [][]string{
		{"points", "earn", "yan", "--points", "many"},
		{"points", "activity", "yan", "--page-size", "ten"},
		{"members", "get", "zed", "--bogus"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, getenv, &out, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (exitUsage); stderr:\n%s", args, code, exitUsage, errOut.String())
		}
	}
}
