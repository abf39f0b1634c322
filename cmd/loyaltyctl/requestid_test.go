package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/ledger"
)

func TestDerivedRequestIDIsStableAndNamesTheArguments(t *testing.T) {
	derive := func(name string, args ...string) string {
		t.Helper()
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.Int64("points", 0, "")
		fs.String("reason", "", "")
		fs.String("request-id", "", "")
		timeFlag(fs, "end", "")
		pos, err := parse(fs, args, 1)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return derivedRequestID(fs, pos)
	}
	base := derive("points earn", "m", "--points", "5", "--reason", "sorry")
	if !regexp.MustCompile(`^ctl-[0-9a-f]{16}$`).MatchString(base) {
		t.Fatalf("derived %q, want ctl- and 16 hex digits", base)
	}
	same := map[string][]string{
		"flags in another order": {"--reason", "sorry", "m", "--points", "5"},
		"flags spelt with =":     {"m", "-points=5", "--reason=sorry"},
		"a request id ignored":   {"m", "--points", "5", "--reason", "sorry", "--request-id", "x"},
	}
	for name, args := range same {
		if got := derive("points earn", args...); got != base {
			t.Errorf("%s: %s, want %s", name, got, base)
		}
	}
	other := map[string]struct {
		cmd  string
		args []string
	}{
		"another member":           {"points earn", []string{"n", "--points", "5", "--reason", "sorry"}},
		"other points":             {"points earn", []string{"m", "--points", "6", "--reason", "sorry"}},
		"another command":          {"points redeem", []string{"m", "--points", "5", "--reason", "sorry"}},
		"a flag left out":          {"points earn", []string{"m", "--points", "5"}},
		"a value moved to another": {"points earn", []string{"m", "--points", "5", "--reason", "sorry", "--end", "2030-01-01T00:00:00Z"}},
	}
	seen := map[string]string{base: "base"}
	for name, o := range other {
		got := derive(o.cmd, o.args...)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s derives %s, like %s", name, got, prev)
		}
		seen[got] = name
	}
	if derive("points earn", "m", "--end", "2030-01-01T00:00:00Z") == derive("points earn", "m", "--end", "2031-01-01T00:00:00Z") {
		t.Error("two times derive the same id")
	}
}

// Every write, run twice without --request-id, applies once: the second run
// answers the first, and each says on stderr which request id it derived.
func TestLoyaltyctlEveryWriteRunTwiceAppliesOnce(t *testing.T) {
	env := apitest.Start(t)
	if _, err := env.App.Ledger.UpdateProgram(context.Background(), ledger.Actor{}, ledger.Program{EarnPoints: 1, EarnPerAmountMinor: 100,
		ExpiryKind: ledger.ExpiryEndOfFollowingYear, PointsPerUnit: 100, TimeZone: "UTC", Currencies: ledger.DefaultCurrencies}); err != nil {
		t.Fatal(err)
	}
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
	said := regexp.MustCompile(`^request id (ctl-[0-9a-f]{16}): derived from the arguments, so running this again does nothing; pass --request-id to make another\n$`)
	// twice runs a write twice and answers its first output, decoded.
	twice := func(args ...string) map[string]any {
		t.Helper()
		var outs [2]map[string]any
		var ids [2]string
		for i := range outs {
			code, out, errOut := ctl(args...)
			m := said.FindStringSubmatch(errOut)
			if code != exitOK || m == nil {
				t.Fatalf("%v (run %d): exit %d, stderr %q, stdout %s", args, i+1, code, errOut, out)
			}
			ids[i] = m[1]
			if err := json.Unmarshal([]byte(out), &outs[i]); err != nil {
				t.Fatalf("%v printed %q", args, out)
			}
		}
		if ids[0] != ids[1] {
			t.Errorf("%v derived %s, then %s", args, ids[0], ids[1])
		}
		return outs[0]
	}
	field := func(v map[string]any, path ...string) string {
		t.Helper()
		var cur any = v
		for _, p := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("no %v in %v", path, v)
			}
			cur = m[p]
		}
		s, _ := cur.(string)
		return s
	}
	balance := func() (available, held string) {
		t.Helper()
		_, out, _ := ctl("points", "balance", "wes")
		var b map[string]any
		_ = json.Unmarshal([]byte(out), &b)
		return field(b, "available"), field(b, "held")
	}

	if code, _, errOut := ctl("members", "enroll", "wes"); code != exitOK {
		t.Fatalf("enroll: %s", errOut)
	}
	twice("points", "earn", "wes", "--spend", "10000", "--currency", "CNY", "--order-id", "W1")
	redeemed := twice("points", "redeem", "wes", "--points", "10")
	if a, _ := balance(); a != "90" {
		t.Errorf("after earn and redeem, each run twice: available %s, want 90", a)
	}
	hold := field(twice("holds", "place", "wes", "--points", "20", "--ttl", "10m"), "hold", "holdId")
	twice("holds", "capture", hold, "--points", "5")
	other := field(twice("holds", "place", "wes", "--points", "7"), "hold", "holdId")
	twice("holds", "void", other)
	if a, h := balance(); a != "85" || h != "0" {
		t.Errorf("after holds: available %s held %s, want 85 and 0", a, h)
	}
	twice("entries", "reverse", field(redeemed, "entry", "entryId"), "--reason", "redeemed by mistake")
	twice("goodwill", "grant", "wes", "--points", "50", "--reason-code", "LATE_DELIVERY", "--ticket", "T-1")
	if a, _ := balance(); a != "145" {
		t.Errorf("after reversal and goodwill: available %s, want 85 + 10 + 50", a)
	}
	twice("orders", "refund", "--member", "wes", "--order", "W1", "--amount", "5000")
	if a, _ := balance(); a != "95" {
		t.Errorf("after refunding half the order: available %s, want 145 - 50", a)
	}
	twice("memberships", "buy", "wes", "--tier", "gold", "--end", time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339))
	twice("entitlements", "consume", "wes", "freeReturnPickups", "--order", "W1")
	if _, out, _ := ctl("entitlements", "check", "wes", "freeReturnPickups"); !strings.Contains(out, `"remaining": 1`) {
		t.Errorf("after one pickup run twice: %s, want 1 of 2 left", out)
	}
	path := t.TempDir() + "/drop.json"
	if err := os.WriteFile(path, []byte(`{"displayName": "drop", "type": "COUPON_DROP",
 "coupon": {"kind": "FREE_SHIPPING", "validDays": 30}, "perMemberCap": {"coupons": 5}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	drop := field(twice("campaigns", "create", "--file", path), "campaignId")
	if code, _, errOut := ctl("campaigns", "activate", drop); code != exitOK {
		t.Fatalf("activate: %s", errOut)
	}
	code := field(twice("coupons", "issue", "wes", "--campaign", drop), "code")
	twice("coupons", "redeem", code, "--member", "wes", "--order", "W2")
	twice("after-sales", "report", "--member", "wes", "--order", "W1", "--type", "LATE_DELIVERY", "--delay-hours", "72")
	if _, out, _ := ctl("coupons", "list", "wes"); strings.Count(out, `"code"`) != 1 {
		t.Errorf("coupons issued by two runs: %s, want one", out)
	}
	if _, out, _ := ctl("ledger", "verify"); !strings.Contains(out, `"ok": true`) {
		t.Errorf("verify: %s", out)
	}

	// The program's currencies, set from the command line: the other settings stay.
	if code, out, errOut := ctl("program", "set", "--currencies", "CNY,HKD"); code != exitOK || !strings.Contains(out, `"currencies": [
    "CNY",
    "HKD"
  ]`) || !strings.Contains(out, `"returnWindowDays": 0`) {
		t.Errorf("program set --currencies: exit %d, %s %s", code, out, errOut)
	}
	if code, _, errOut := ctl("program", "set", "--currencies", "CNY,hkd"); code != exitError || !strings.Contains(errOut, "currencies[1]: ") {
		t.Errorf("program set with a bad currency: exit %d, %s", code, errOut)
	}
	if code, _, errOut := ctl("points", "earn", "wes", "--spend", "100", "--currency", "USD", "--order-id", "W3"); code != exitError ||
		!strings.Contains(errOut, "spend.currency: USD is not a currency the program earns in; it accepts CNY, HKD") {
		t.Errorf("earn in USD: exit %d, %s", code, errOut)
	}
}
