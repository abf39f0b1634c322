package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
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
	// An activity with no campaign covering it is recorded and earns nothing; its
	// repeat (the derived request id) answers it.
	if code, out, _ := ctl(apitest.AdminKey, "members", "report-activity", "zed", "--type", "CHECK_IN", "--key", "2026-12-02"); code != exitOK || !strings.Contains(out, `"reason": "NO_MATCHING_CAMPAIGN"`) {
		t.Errorf("report-activity: exit %d, %s", code, out)
	}
	if code, out, _ := ctl(apitest.AdminKey, "members", "report-activity", "zed", "--type", "CHECK_IN", "--key", "2026-12-02"); code != exitOK || !strings.Contains(out, `"replayed": true`) {
		t.Errorf("report-activity again: exit %d, %s", code, out)
	}
	// A referral: recorded once (its repeat, the derived request id, is replayed),
	// listed PENDING; a second referrer is refused naming the field.
	if code, _, _ := ctl(apitest.AdminKey, "members", "enroll", "zoe"); code != exitOK {
		t.Fatalf("enroll zoe: exit %d", code)
	}
	if code, out, _ := ctl(apitest.AdminKey, "referrals", "add", "zed", "zoe"); code != exitOK || !strings.Contains(out, `"status": "PENDING"`) {
		t.Errorf("referrals add: exit %d, %s", code, out)
	}
	if code, out, _ := ctl(apitest.AdminKey, "referrals", "add", "zed", "zoe"); code != exitOK || !strings.Contains(out, `"replayed": true`) {
		t.Errorf("referrals add again: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(apitest.AdminKey, "referrals", "add", "nobody", "zoe"); code != exitError || !strings.Contains(errOut, "NOT_FOUND") {
		t.Errorf("referrals add by an unknown member: exit %d, %q", code, errOut)
	}
	if code, out, _ := ctl(apitest.AdminKey, "referrals", "list", "zed"); code != exitOK || !strings.Contains(out, `"referredMemberId": "zoe"`) {
		t.Errorf("referrals list: exit %d, %s", code, out)
	}
	if code, _, _ := ctl(apitest.AdminKey, "referrals", "add", "zed"); code != exitUsage {
		t.Errorf("referrals add without the referred member: exit %d, want %d", code, exitUsage)
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
		ExpiryKind: ledger.ExpiryEndOfFollowingYear, PointsPerUnit: 100, TimeZone: "UTC", Currencies: ledger.DefaultCurrencies}); err != nil {
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
	// Without --request-id one is derived from the command and its arguments, and
	// said on stderr: running the same command again credits once, whatever the
	// order or spelling of its flags; other arguments make another earning.
	code, out, errOut = ctl(app, "points", "earn", "yan", "--points", "5", "--reason", "apology")
	derived := printed(out)
	if code != exitOK || !strings.HasPrefix(derived.RequestID, "ctl-") || len(derived.RequestID) != len("ctl-")+16 || derived.BalanceAfter != "125" {
		t.Errorf("points earn without --request-id: exit %d, %+v", code, derived)
	}
	if want := "request id " + derived.RequestID + ": derived from the arguments, so running this again does nothing; pass --request-id to make another\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	for _, again := range [][]string{
		{"points", "earn", "yan", "--points", "5", "--reason", "apology"},
		{"points", "earn", "--reason=apology", "yan", "-points=5"},
	} {
		code, out, _ := ctl(app, again...)
		if e := printed(out); code != exitOK || e.RequestID != derived.RequestID || e.EntryID != derived.EntryID || e.BalanceAfter != "125" {
			t.Errorf("%v again: exit %d, %+v, want the first earning %s answered", again, code, e, derived.EntryID)
		}
	}
	code, out, _ = ctl(app, "points", "earn", "yan", "--points", "5", "--reason", "second apology")
	if other := printed(out); code != exitOK || other.RequestID == derived.RequestID || other.BalanceAfter != "130" {
		t.Errorf("earn with other arguments: exit %d, %+v, want a new earning", code, other)
	}
	if code, _, errOut := ctl(app, "points", "earn", "yan", "--points", "120", "--request-id", "ctl-earn-1", "--order-id", "o-1"); code != exitOK || errOut != "" {
		t.Errorf("earn with --request-id: exit %d, stderr %q, want nothing said", code, errOut)
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

func TestLoyaltyctlOrdersLotsAndReports(t *testing.T) {
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
	type order struct {
		OrderID, EarnedPoints, RefundedMinor, PointsTakenBack string
		FullyRefunded                                         bool
	}
	type refund struct {
		Order                           order
		RefundAmountMinor, PointsVoided string
		Entries                         []struct{ Kind string }
	}
	decode := func(what, out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s printed %q (%v)", what, out, err)
		}
	}

	if code, _, errOut := ctl(app, "members", "enroll", "una"); code != exitOK {
		t.Fatalf("members enroll: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl(app, "points", "earn", "una", "--spend", "10000", "--currency", "CNY", "--order-id", "o-1", "--request-id", "o-1-earn"); code != exitOK {
		t.Fatalf("earn on an order: exit %d, %s", code, errOut)
	}

	code, out, errOut := ctl(app, "orders", "refund", "--member", "una", "--order", "o-1", "--amount", "2500", "--request-id", "ctl-refund-1")
	if code != exitOK {
		t.Fatalf("orders refund: exit %d, %s", code, errOut)
	}
	var part refund
	decode("orders refund", out, &part)
	if part.RefundAmountMinor != "2500" || part.PointsVoided != "25" || part.Order.RefundedMinor != "2500" || part.Order.PointsTakenBack != "25" ||
		len(part.Entries) != 1 || part.Entries[0].Kind != "REFUND" {
		t.Errorf("partial refund printed %+v", part)
	}
	// Retrying with the same request id refunds once.
	if code, out, _ := ctl(app, "orders", "refund", "--member", "una", "--order", "o-1", "--amount", "2500", "--request-id", "ctl-refund-1"); code != exitOK ||
		!strings.Contains(out, `"pointsVoided": "25"`) {
		t.Errorf("repeated orders refund: exit %d, %s", code, out)
	}
	code, _, errOut = ctl(app, "orders", "refund", "--member", "una", "--order", "o-1", "--amount", "9000", "--request-id", "ctl-refund-over")
	if code != exitError || !strings.Contains(errOut, "FAILED_PRECONDITION") || !strings.Contains(errOut, "REFUND_EXCEEDS_ORDER") {
		t.Errorf("over-refund: exit %d, %q", code, errOut)
	}
	code, _, errOut = ctl(app, "orders", "refund", "--member", "una", "--order", "o-404", "--request-id", "ctl-refund-404")
	if code != exitError || !strings.Contains(errOut, "ORDER_NOT_FOUND") {
		t.Errorf("refund of an unknown order: exit %d, %q", code, errOut)
	}
	code, _, errOut = ctl(app, "orders", "refund", "--member", "una", "--order", "o-1", "--amount", "0", "--request-id", "ctl-refund-zero")
	if code != exitError || !strings.Contains(errOut, "refundAmountMinor:") {
		t.Errorf("refund of 0: exit %d, %q", code, errOut)
	}
	// Without --amount: the rest, in full.
	code, out, errOut = ctl(app, "orders", "refund", "--member", "una", "--order", "o-1", "--request-id", "ctl-refund-2")
	var rest refund
	if decode("orders refund", out, &rest); code != exitOK || rest.RefundAmountMinor != "7500" || rest.PointsVoided != "75" || !rest.Order.FullyRefunded {
		t.Errorf("full refund: exit %d, %+v %s", code, rest, errOut)
	}

	code, out, errOut = ctl(auditor, "orders", "get", "--member", "una", "--order", "o-1")
	var got struct{ Order order }
	if decode("orders get", out, &got); code != exitOK || got.Order.OrderID != "o-1" || got.Order.EarnedPoints != "100" ||
		got.Order.RefundedMinor != "10000" || !got.Order.FullyRefunded {
		t.Errorf("orders get: exit %d, %+v %s", code, got, errOut)
	}
	if code, _, errOut := ctl(auditor, "orders", "get", "--member", "una", "--order", "o-404"); code != exitError || !strings.Contains(errOut, "NOT_FOUND") {
		t.Errorf("orders get of an unknown order: exit %d, %q", code, errOut)
	}

	if code, _, errOut := ctl(app, "points", "earn", "una", "--points", "40", "--request-id", "e-2"); code != exitOK {
		t.Fatalf("earn: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl(app, "points", "redeem", "una", "--points", "40", "--request-id", "r-1"); code != exitOK {
		t.Fatalf("redeem: exit %d, %s", code, errOut)
	}
	var lots struct {
		Lots []struct{ Points, Remaining, ExpireTime string }
	}
	code, out, errOut = ctl(app, "members", "lots", "una")
	if decode("members lots", out, &lots); code != exitOK || len(lots.Lots) != 0 {
		t.Errorf("open lots: exit %d, %+v %s", code, lots, errOut)
	}
	code, out, errOut = ctl(app, "members", "lots", "una", "--include-spent")
	if decode("members lots", out, &lots); code != exitOK || len(lots.Lots) != 1 || lots.Lots[0].Points != "40" ||
		lots.Lots[0].Remaining != "0" || lots.Lots[0].ExpireTime == "" {
		t.Errorf("lots with spent ones: exit %d, %+v %s", code, lots, errOut)
	}

	code, out, errOut = ctl(auditor, "reports", "liability")
	var report struct {
		Issued, Redeemed, Outstanding string
		Consistent                    bool
	}
	if decode("reports liability", out, &report); code != exitOK || !report.Consistent || report.Issued != "40" || report.Redeemed != "40" ||
		report.Outstanding != "0" {
		t.Errorf("reports liability: exit %d, %+v %s", code, report, errOut)
	}
	if code, _, errOut := ctl(app, "reports", "liability"); code != exitError || !strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("reports liability with an app key: exit %d, %q", code, errOut)
	}

	// Command-line mistakes: nothing is sent.
	for _, args := range [][]string{
		{"orders", "refund", "--member", "una", "--order", "o-1", "--amount", "ten", "--request-id", "x"},
		{"orders", "get", "o-1"},
		{"members", "lots"},
		{"reports", "liability", "extra"},
	} {
		if code, _, _ := ctl(app, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	var help bytes.Buffer
	run([]string{"--help"}, func(string) string { return "" }, &help, &help)
	for _, c := range []string{"orders refund", "orders get", "members lots", "reports liability"} {
		if !strings.Contains(help.String(), c) {
			t.Errorf("usage does not list %s:\n%s", c, help.String())
		}
	}
}

func TestLoyaltyctlTiersMembershipsAndEntitlements(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	marketer := env.Key(access.RoleMarketer)
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
	decode := func(what, out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s printed %q (%v)", what, out, err)
		}
	}
	type tier struct {
		ID        string
		Threshold string
		Perks     struct{ FreeReturnPickups int }
	}
	type policy struct {
		Version string
		Tiers   []tier
	}

	// The policy as printed is what set-policy takes back.
	code, printed, errOut := ctl(marketer, "tiers", "policy")
	var p policy
	if decode("tiers policy", printed, &p); code != exitOK || p.Version != "0" || len(p.Tiers) != 4 || p.Tiers[3].ID != "platinum" ||
		p.Tiers[3].Perks.FreeReturnPickups != 5 {
		t.Fatalf("tiers policy: exit %d, %+v %s", code, p, errOut)
	}
	file := t.TempDir() + "/policy.json"
	if err := os.WriteFile(file, []byte(strings.Replace(printed, `"threshold": "1000"`, `"threshold": "800"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ctl(marketer, "tiers", "set-policy", "--file", file); code != exitError || !strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("set-policy as marketer: exit %d, %q", code, errOut)
	}
	code, out, errOut := ctl(apitest.AdminKey, "tiers", "set-policy", "--file", file)
	if decode("tiers set-policy", out, &p); code != exitOK || p.Version == "0" || p.Tiers[1].Threshold != "800" {
		t.Errorf("tiers set-policy: exit %d, %+v %s", code, p, errOut)
	}
	bad := t.TempDir() + "/bad.json"
	if err := os.WriteFile(bad, []byte(strings.Replace(printed, `"threshold": "5000"`, `"threshold": "900"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ctl(apitest.AdminKey, "tiers", "set-policy", "--file", bad); code != exitError || !strings.Contains(errOut, "tiers[2].threshold:") {
		t.Errorf("set-policy with gold below silver: exit %d, %q", code, errOut)
	}

	if code, _, errOut := ctl(app, "members", "enroll", "vic"); code != exitOK {
		t.Fatalf("members enroll: exit %d, %s", code, errOut)
	}
	type membership struct {
		MembershipID, TierID, EndTime string
		Active                        bool
	}
	end := time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Second).Format(time.RFC3339)
	code, out, errOut = ctl(app, "memberships", "buy", "vic", "--tier", "platinum", "--end", end, "--request-id", "vic-vip")
	var m membership
	if decode("memberships buy", out, &m); code != exitOK || m.MembershipID == "" || m.TierID != "platinum" || !m.Active ||
		m.EndTime != end {
		t.Fatalf("memberships buy: exit %d, %+v %s", code, m, errOut)
	}
	if code, out, _ := ctl(app, "memberships", "buy", "vic", "--tier", "platinum", "--end", end, "--request-id", "vic-vip"); code != exitOK ||
		!strings.Contains(out, `"membershipId": "`+m.MembershipID+`"`) {
		t.Errorf("repeated memberships buy: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(app, "memberships", "buy", "vic", "--tier", "gold"); code != exitError || !strings.Contains(errOut, "endTime:") {
		t.Errorf("memberships buy without --end: exit %d, %q", code, errOut)
	}
	var perks struct {
		Tier   struct{ ID string }
		Source string
		Perks  struct{ FreeReturnPickups int }
	}
	code, out, errOut = ctl(agent, "members", "perks", "vic")
	if decode("members perks", out, &perks); code != exitOK || perks.Tier.ID != "platinum" || perks.Source != "PAID" || perks.Perks.FreeReturnPickups != 5 {
		t.Errorf("members perks: exit %d, %+v %s", code, perks, errOut)
	}

	var ent struct {
		Quota, Remaining int
		Allowed          bool
	}
	code, out, errOut = ctl(agent, "entitlements", "check", "vic", "freeReturnPickups")
	if decode("entitlements check", out, &ent); code != exitOK || ent.Quota != 5 || ent.Remaining != 5 || !ent.Allowed {
		t.Errorf("entitlements check: exit %d, %+v %s", code, ent, errOut)
	}
	var use struct {
		Entitlement        struct{ Remaining int }
		RequestID, OrderID string
	}
	code, out, errOut = ctl(app, "entitlements", "consume", "vic", "freeReturnPickups", "--order", "o-7", "--request-id", "pickup-1")
	if decode("entitlements consume", out, &use); code != exitOK || use.Entitlement.Remaining != 4 || use.RequestID != "pickup-1" || use.OrderID != "o-7" {
		t.Errorf("entitlements consume: exit %d, %+v %s", code, use, errOut)
	}
	if code, _, errOut := ctl(app, "entitlements", "check", "vic", "freeLunches"); code != exitError || !strings.Contains(errOut, "perk:") {
		t.Errorf("unknown perk: exit %d, %q", code, errOut)
	}

	var listed struct{ Memberships []membership }
	code, out, errOut = ctl(app, "memberships", "list", "vic")
	if decode("memberships list", out, &listed); code != exitOK || len(listed.Memberships) != 1 || listed.Memberships[0].MembershipID != m.MembershipID {
		t.Errorf("memberships list: exit %d, %+v %s", code, listed, errOut)
	}
	code, out, errOut = ctl(app, "memberships", "cancel", "vic", m.MembershipID)
	if decode("memberships cancel", out, &m); code != exitOK || m.Active {
		t.Errorf("memberships cancel: exit %d, %+v %s", code, m, errOut)
	}
	var history struct {
		Changes []struct{ Reason, ToTierID string }
	}
	code, out, errOut = ctl(agent, "members", "tier-history", "vic")
	if decode("members tier-history", out, &history); code != exitOK || len(history.Changes) != 2 ||
		history.Changes[0].Reason != "MEMBERSHIP_CANCELLED" || history.Changes[1].Reason != "MEMBERSHIP_PURCHASED" {
		t.Errorf("members tier-history: exit %d, %+v %s", code, history, errOut)
	}

	// Command-line mistakes: nothing is sent.
	for _, args := range [][]string{
		{"tiers", "set-policy"},
		{"tiers", "policy", "extra"},
		{"memberships", "buy", "vic", "--tier", "gold", "--end", "next year"},
		{"memberships", "cancel", "vic"},
		{"entitlements", "check", "vic"},
		{"entitlements", "consume", "vic", "freeReturnPickups", "--bogus"},
		{"members", "tier-history", "vic", "--page-size", "-1"},
	} {
		if code, _, _ := ctl(app, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	var help bytes.Buffer
	run([]string{"--help"}, func(string) string { return "" }, &help, &help)
	for _, c := range []string{"tiers policy", "tiers set-policy", "members perks", "members tier-history", "memberships buy",
		"memberships list", "memberships cancel", "entitlements check", "entitlements consume"} {
		if !strings.Contains(help.String(), c) {
			t.Errorf("usage does not list %s:\n%s", c, help.String())
		}
	}
}

func TestLoyaltyctlCampaignsCouponsAndAfterSales(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	marketer := env.Key(access.RoleMarketer)
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
	decode := func(what, out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s printed %q (%v)", what, out, err)
		}
	}
	file := func(name, body string) string {
		t.Helper()
		path := t.TempDir() + "/" + name
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	type campaign struct {
		CampaignID, Status, Type string
		Spent                    struct{ Points, Coupons string }
	}
	for _, m := range []string{"yan", "zoe"} {
		if code, _, errOut := ctl(app, "members", "enroll", m); code != exitOK {
			t.Fatalf("members enroll: exit %d, %s", code, errOut)
		}
	}

	// The spec's coupon drop, as the file.
	drop := file("drop.json", `{"displayName": "Singles' Day coupon drop", "type": "COUPON_DROP",
 "coupon": {"kind": "AMOUNT_OFF", "amountOffMinor": 1000, "minSpendMinor": 9900, "validDays": 30},
 "budget": {"coupons": 100000}, "perMemberCap": {"coupons": 1}}`)
	code, out, errOut := ctl(marketer, "campaigns", "create", "--file", drop, "--request-id", "ctl-drop")
	var c campaign
	if decode("campaigns create", out, &c); code != exitOK || c.CampaignID == "" || c.Status != "DRAFT" || c.Type != "COUPON_DROP" {
		t.Fatalf("campaigns create: exit %d, %+v %s", code, c, errOut)
	}
	if code, out, _ := ctl(marketer, "campaigns", "create", "--file", drop, "--request-id", "ctl-drop"); code != exitOK ||
		!strings.Contains(out, `"campaignId": "`+c.CampaignID+`"`) {
		t.Errorf("repeated campaigns create: exit %d, %s", code, out)
	}
	bad := file("bad.json", `{"displayName": "Bad", "type": "POINTS_MULTIPLIER", "multiplierPercent": 200,
 "eligibility": {"rule": "order.spendMinr >= 1"}}`)
	if code, _, errOut := ctl(marketer, "campaigns", "create", "--file", bad); code != exitError || !strings.Contains(errOut, "eligibility.rule:") {
		t.Errorf("campaign with a bad rule: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(app, "campaigns", "create", "--file", drop); code != exitError || !strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("campaigns create as app: exit %d, %q", code, errOut)
	}
	if code, out, errOut := ctl(marketer, "campaigns", "activate", c.CampaignID); code != exitOK || !strings.Contains(out, `"status": "ACTIVE"`) {
		t.Errorf("campaigns activate: exit %d, %s %s", code, out, errOut)
	}
	var listed struct{ Campaigns []campaign }
	code, out, errOut = ctl(auditor, "campaigns", "list", "--status", "ACTIVE")
	if decode("campaigns list", out, &listed); code != exitOK || len(listed.Campaigns) != 1 || listed.Campaigns[0].CampaignID != c.CampaignID {
		t.Errorf("campaigns list: exit %d, %+v %s", code, listed, errOut)
	}

	// Coupons: issue, list, validate, redeem once, revoke.
	type coupon struct{ Code, MemberID, Status, RedeemOrderID string }
	var cp coupon
	code, out, errOut = ctl(app, "coupons", "issue", "yan", "--campaign", c.CampaignID, "--request-id", "ctl-iss-1")
	if decode("coupons issue", out, &cp); code != exitOK || cp.Code == "" || cp.MemberID != "yan" || cp.Status != "ISSUED" {
		t.Fatalf("coupons issue: exit %d, %+v %s", code, cp, errOut)
	}
	if code, out, _ := ctl(app, "coupons", "issue", "yan", "--campaign", c.CampaignID, "--request-id", "ctl-iss-1"); code != exitOK ||
		!strings.Contains(out, `"code": "`+cp.Code+`"`) {
		t.Errorf("repeated coupons issue: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(app, "coupons", "issue", "yan", "--campaign", c.CampaignID); code != exitError || !strings.Contains(errOut, "MEMBER_CAP_REACHED") {
		t.Errorf("second coupon for yan: exit %d, %q", code, errOut)
	}
	var mine struct{ Coupons []coupon }
	code, out, errOut = ctl(auditor, "coupons", "list", "yan")
	if decode("coupons list", out, &mine); code != exitOK || len(mine.Coupons) != 1 || mine.Coupons[0].Code != cp.Code {
		t.Errorf("coupons list: exit %d, %+v %s", code, mine, errOut)
	}
	if code, out, _ := ctl(agent, "coupons", "get", strings.ToLower(cp.Code)); code != exitOK || !strings.Contains(out, `"status": "ISSUED"`) {
		t.Errorf("coupons get: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(app, "coupons", "redeem", cp.Code, "--member", "yan", "--order", "o-1", "--spend", "5000"); code != exitError ||
		!strings.Contains(errOut, "COUPON_MIN_SPEND_NOT_MET") {
		t.Errorf("redeem below the minimum spend: exit %d, %q", code, errOut)
	}
	code, out, errOut = ctl(app, "coupons", "redeem", cp.Code, "--member", "yan", "--order", "o-1", "--spend", "10000", "--request-id", "ctl-red-1")
	if decode("coupons redeem", out, &cp); code != exitOK || cp.Status != "REDEEMED" || cp.RedeemOrderID != "o-1" {
		t.Errorf("coupons redeem: exit %d, %+v %s", code, cp, errOut)
	}
	if code, _, errOut := ctl(app, "coupons", "redeem", cp.Code, "--member", "yan", "--order", "o-2", "--request-id", "ctl-red-2"); code != exitError ||
		!strings.Contains(errOut, "COUPON_ALREADY_REDEEMED") {
		t.Errorf("second redemption: exit %d, %q", code, errOut)
	}
	var zoe coupon
	code, out, errOut = ctl(agent, "coupons", "issue", "zoe", "--campaign", c.CampaignID)
	if decode("coupons issue", out, &zoe); code != exitOK {
		t.Fatalf("coupons issue for zoe: exit %d, %s", code, errOut)
	}
	if code, out, errOut := ctl(agent, "coupons", "revoke", zoe.Code); code != exitOK || !strings.Contains(out, `"status": "REVOKED"`) {
		t.Errorf("coupons revoke: exit %d, %s %s", code, out, errOut)
	}
	if code, _, errOut := ctl(app, "coupons", "redeem", zoe.Code, "--member", "zoe", "--order", "o-3"); code != exitError || !strings.Contains(errOut, "COUPON_REVOKED") {
		t.Errorf("redeem a revoked coupon: exit %d, %q", code, errOut)
	}

	// A dry run of a multiplier, then pause and end.
	double := file("double.json", `{"displayName": "Double", "type": "POINTS_MULTIPLIER", "multiplierPercent": 200}`)
	code, out, errOut = ctl(marketer, "campaigns", "create", "--file", double)
	var d campaign
	if decode("campaigns create", out, &d); code != exitOK {
		t.Fatalf("campaigns create: exit %d, %s", code, errOut)
	}
	var sim struct {
		BasePoints, Points  string
		Eligible, ActiveNow bool
	}
	code, out, errOut = ctl(marketer, "campaigns", "simulate", d.CampaignID, "--member", "yan", "--spend", "10000", "--currency", "CNY", "--order", "o-9")
	if decode("campaigns simulate", out, &sim); code != exitOK || sim.BasePoints != "100" || sim.Points != "100" || !sim.Eligible || sim.ActiveNow {
		t.Errorf("campaigns simulate: exit %d, %+v %s", code, sim, errOut)
	}
	if code, out, _ := ctl(auditor, "campaigns", "get", d.CampaignID); code != exitOK || !strings.Contains(out, `"status": "DRAFT"`) {
		t.Errorf("campaigns get: exit %d, %s", code, out)
	}
	ctl(marketer, "campaigns", "activate", d.CampaignID)
	if code, out, _ := ctl(marketer, "campaigns", "pause", d.CampaignID); code != exitOK || !strings.Contains(out, `"status": "PAUSED"`) {
		t.Errorf("campaigns pause: exit %d, %s", code, out)
	}
	if code, out, _ := ctl(marketer, "campaigns", "end", d.CampaignID); code != exitOK || !strings.Contains(out, `"status": "ENDED"`) {
		t.Errorf("campaigns end: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(marketer, "campaigns", "activate", d.CampaignID); code != exitError || !strings.Contains(errOut, "CAMPAIGN_STATUS") {
		t.Errorf("activate an ended campaign: exit %d, %q", code, errOut)
	}

	// After-sales compensation: the spec's late delivery apology.
	late := file("late.json", `{"displayName": "Late delivery apology", "type": "COMPENSATION",
 "compensation": {"eventTypes": ["LATE_DELIVERY"], "minDelayHours": 48, "points": 100,
                  "tierPercent": {"gold": 150, "platinum": 200}},
 "coupon": {"kind": "FREE_SHIPPING", "validDays": 60}}`)
	code, out, errOut = ctl(marketer, "campaigns", "create", "--file", late)
	var l campaign
	if decode("campaigns create", out, &l); code != exitOK {
		t.Fatalf("campaigns create: exit %d, %s", code, errOut)
	}
	ctl(marketer, "campaigns", "activate", l.CampaignID)
	type outcome struct {
		Grants   []struct{ CampaignID, Points, CouponCode string }
		Replayed bool
		Reason   string
	}
	var o outcome
	code, out, errOut = ctl(agent, "after-sales", "report", "--member", "yan", "--order", "o-1", "--type", "LATE_DELIVERY", "--delay-hours", "72",
		"--request-id", "ctl-ev-1")
	if decode("after-sales report", out, &o); code != exitOK || len(o.Grants) != 1 || o.Grants[0].CampaignID != l.CampaignID ||
		o.Grants[0].Points != "100" || o.Grants[0].CouponCode == "" || o.Replayed {
		t.Errorf("after-sales report: exit %d, %+v %s", code, o, errOut)
	}
	code, out, errOut = ctl(app, "after-sales", "report", "--member", "yan", "--order", "o-1", "--type", "LATE_DELIVERY", "--delay-hours", "80")
	if decode("after-sales report", out, &o); code != exitOK || !o.Replayed || len(o.Grants) != 1 {
		t.Errorf("repeated after-sales report: exit %d, %+v %s", code, o, errOut)
	}
	if code, _, errOut := ctl(marketer, "after-sales", "report", "--member", "yan", "--order", "o-2", "--type", "LATE_DELIVERY"); code != exitError ||
		!strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("after-sales report as marketer: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(agent, "after-sales", "report", "--member", "yan", "--order", "o-2", "--type", "LOST"); code != exitError ||
		!strings.Contains(errOut, "type:") {
		t.Errorf("after-sales report of an unknown type: exit %d, %q", code, errOut)
	}

	// Command-line mistakes: nothing is sent.
	for _, args := range [][]string{
		{"campaigns", "create"},
		{"campaigns", "get"},
		{"campaigns", "activate", "a", "b"},
		{"campaigns", "list", "extra"},
		{"campaigns", "list", "--page-size", "-1"},
		{"campaigns", "simulate", "--member", "yan"},
		{"coupons", "issue"},
		{"coupons", "redeem", "--member", "yan"},
		{"coupons", "revoke"},
		{"after-sales", "report", "--delay-hours", "-1"},
		{"after-sales", "report", "extra"},
	} {
		if code, _, _ := ctl(marketer, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	var help bytes.Buffer
	run([]string{"--help"}, func(string) string { return "" }, &help, &help)
	for _, cmd := range []string{"campaigns create", "campaigns get", "campaigns list", "campaigns activate", "campaigns pause", "campaigns end",
		"campaigns simulate", "coupons issue", "coupons list", "coupons get", "coupons redeem", "coupons revoke", "after-sales report"} {
		if !strings.Contains(help.String(), cmd) {
			t.Errorf("usage does not list %s:\n%s", cmd, help.String())
		}
	}
}

func TestLoyaltyctlAudit(t *testing.T) {
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
	auditor := env.Key(access.RoleAuditor)
	if code, _, _ := ctl(apitest.AdminKey, "members", "enroll", "ava"); code != exitOK {
		t.Fatalf("enroll: exit %d", code)
	}
	if code, _, _ := ctl(apitest.AdminKey, "points", "earn", "ava", "--points", "5", "--request-id", "ava-1"); code != exitOK {
		t.Fatalf("earn: exit %d", code)
	}
	code, out, errOut := ctl(auditor, "audit", "--member", "ava", "--method", "PointsService/Earn", "--since", "2000-01-01T00:00:00Z")
	var page struct {
		Records []struct{ Method, Target, RequestID, Outcome string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &page) != nil {
		t.Fatalf("audit: exit %d, %s %s", code, out, errOut)
	}
	if len(page.Records) != 1 || page.Records[0].Method != "/loyalty.v1.PointsService/Earn" || page.Records[0].Target != "members/ava" ||
		page.Records[0].RequestID != "ava-1" || page.Records[0].Outcome != "OK" {
		t.Errorf("audit --member ava --method PointsService/Earn: %s", out)
	}
	if code, out, _ := ctl(auditor, "audit"); code != exitOK || strings.Count(out, `"auditId"`) != 2 {
		t.Errorf("audit: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(auditor, "audit", "--since", "2027-01-02T00:00:00Z", "--until", "2027-01-01T00:00:00Z"); code != exitError || !strings.Contains(errOut, "endTime:") {
		t.Errorf("until before since: exit %d, %q", code, errOut)
	}
	if code, _, _ := ctl(auditor, "audit", "--since", "yesterday"); code != exitUsage {
		t.Errorf("a time that does not parse: exit %d, want %d", code, exitUsage)
	}
}

func TestLoyaltyctlEventsTail(t *testing.T) {
	env := apitest.Start(t)
	auditor := env.Key(access.RoleAuditor)
	ctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		getenv := func(name string) string {
			switch name {
			case "LOYALTY_GRPC_ADDR":
				return env.GRPCAddr
			case "LOYALTY_API_KEY":
				return auditor
			}
			return ""
		}
		code := run(args, getenv, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	write := func(member string) {
		t.Helper()
		if err := pgx.BeginFunc(context.Background(), env.Pool, func(tx pgx.Tx) error {
			return events.AppendTx(context.Background(), tx, events.Event{Type: events.PointsEarned, OccurTime: time.Now(), MemberID: member})
		}); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	// The tail follows live: the second event is written after it started.
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := ctl("events", "tail", "--types", "points.earned", "--count", "2")
		done <- result{code, out, errOut}
	}()
	time.Sleep(300 * time.Millisecond)
	write("second")
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("events tail did not see two events")
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != exitOK || len(lines) != 2 || !strings.Contains(lines[0], `"memberId":"first"`) || !strings.Contains(lines[1], `"memberId":"second"`) {
		t.Fatalf("events tail: exit %d, %q, %q", r.code, r.out, r.err)
	}
	var first struct{ Position string }
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Position == "" {
		t.Fatalf("tail line %q: %v", lines[0], err)
	}
	code, out, _ := ctl("events", "tail", "--after", first.Position, "--count", "1")
	if code != exitOK || !strings.Contains(out, `"memberId":"second"`) {
		t.Errorf("tail --after: exit %d, %s", code, out)
	}
	code, out, _ = ctl("events", "list", "--member", "first")
	if code != exitOK || !strings.Contains(out, `"memberSeq": "1"`) {
		t.Errorf("events list: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl("events", "tail", "--types", "nope.nope", "--count", "1"); code != exitError || !strings.Contains(errOut, "types") {
		t.Errorf("tail of an unknown type: exit %d, %q", code, errOut)
	}
}

func TestLoyaltyctlWebhooks(t *testing.T) {
	env := apitest.Start(t, func(o *app.Options) { o.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	ctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		getenv := func(name string) string {
			switch name {
			case "LOYALTY_GRPC_ADDR":
				return env.GRPCAddr
			case "LOYALTY_API_KEY":
				return apitest.AdminKey
			}
			return ""
		}
		code := run(args, getenv, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := ctl("webhooks", "create", "--url", "http://127.0.0.1:9/hooks", "--types", "points.earned,tier.changed", "--description", "crm")
	var created struct {
		Endpoint struct{ EndpointID string }
		Secret   string
	}
	if err := json.Unmarshal([]byte(out), &created); code != exitOK || err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("webhooks create: exit %d, %s %s (%v)", code, out, errOut, err)
	}
	id := created.Endpoint.EndpointID
	if code, out, _ := ctl("webhooks", "list"); code != exitOK || !strings.Contains(out, id) || strings.Contains(out, "whsec_") {
		t.Errorf("webhooks list: exit %d, %s", code, out)
	}
	if code, out, _ := ctl("webhooks", "rotate", id); code != exitOK || !strings.Contains(out, "whsec_") || strings.Contains(out, created.Secret) {
		t.Errorf("webhooks rotate: exit %d, %s", code, out)
	}
	if code, out, _ := ctl("webhooks", "deliveries", id); code != exitOK || !strings.Contains(out, `"deliveries": []`) {
		t.Errorf("webhooks deliveries: exit %d, %s", code, out)
	}
	if code, out, _ := ctl("webhooks", "replay", id, "--since", "2026-01-01T00:00:00Z"); code != exitOK || !strings.Contains(out, `"status": "ACTIVE"`) {
		t.Errorf("webhooks replay: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl("webhooks", "retry", id, "12345"); code != exitError || !strings.Contains(errOut, "WEBHOOK_DELIVERY_NOT_FOUND") {
		t.Errorf("webhooks retry: exit %d, %s", code, errOut)
	}
	if code, _, _ := ctl("webhooks", "delete", id); code != exitOK {
		t.Errorf("webhooks delete: exit %d", code)
	}
	if code, _, errOut := ctl("webhooks", "get", id); code != exitError || !strings.Contains(errOut, "WEBHOOK_ENDPOINT_NOT_FOUND") {
		t.Errorf("webhooks get after delete: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl("webhooks", "create", "--url", "http://10.0.0.1/"); code != exitError || !strings.Contains(errOut, "WEBHOOK_URL_REFUSED") {
		t.Errorf("private url: exit %d, %s", code, errOut)
	}
}
