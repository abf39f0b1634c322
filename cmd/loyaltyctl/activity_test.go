package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// activity report records a member's activity and answers what the activity
// campaigns gave (a repeat of the command answers the first report); activity
// types lists what can be reported. coupons set-allowance names the allowance's
// campaign, refusing one that cannot issue.
func TestLoyaltyctlActivityAndCouponAllowance(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
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
	campaign := func(body string) string {
		t.Helper()
		path := t.TempDir() + "/campaign.json"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := ctl(marketer, "campaigns", "create", "--file", path)
		_, rest, _ := strings.Cut(out, `"campaignId": "`)
		id, _, _ := strings.Cut(rest, `"`)
		if code != exitOK || id == "" {
			t.Fatalf("campaigns create: exit %d, %s %s", code, out, errOut)
		}
		if code, _, errOut := ctl(marketer, "campaigns", "activate", id); code != exitOK {
			t.Fatalf("campaigns activate: exit %d, %s", code, errOut)
		}
		return id
	}
	if code, _, errOut := ctl(app, "members", "enroll", "ann"); code != exitOK {
		t.Fatalf("members enroll: exit %d, %s", code, errOut)
	}
	campaign(`{"displayName": "Photo reviews", "type": "ACTIVITY_REWARD",
 "activity": {"activityTypes": ["REVIEW_WITH_PHOTO"], "points": 20, "caps": {"perActivityKey": 1}}, "budget": {"points": 1000}}`)

	if code, out, errOut := ctl(app, "activity", "types"); code != exitOK || !strings.Contains(out, `"REVIEW_WITH_PHOTO"`) || !strings.Contains(out, `"CHECK_IN"`) {
		t.Errorf("activity types: exit %d, %s %s", code, out, errOut)
	}
	code, out, errOut := ctl(app, "activity", "report", "ann", "REVIEW_WITH_PHOTO", "--key", "order-1-line-1")
	if code != exitOK || !strings.Contains(out, `"points": "20"`) || strings.Contains(out, `"replayed": true`) || !strings.Contains(errOut, "request id ctl-") {
		t.Fatalf("activity report: exit %d, %s %s", code, out, errOut)
	}
	if code, out, _ := ctl(app, "activity", "report", "ann", "REVIEW_WITH_PHOTO", "--key", "order-1-line-1"); code != exitOK || !strings.Contains(out, `"replayed": true`) {
		t.Errorf("the same report again: exit %d, %s", code, out)
	}
	// Another request about the same line is the same activity: it answers the first.
	_, rest, _ := strings.Cut(out, `"requestId": "`)
	first, _, _ := strings.Cut(rest, `"`)
	if code, out, _ := ctl(app, "activity", "report", "ann", "REVIEW_WITH_PHOTO", "--key", "order-1-line-1", "--request-id", "review-again"); code != exitOK ||
		!strings.Contains(out, `"replayed": true`) || !strings.Contains(out, `"requestId": "`+first+`"`) {
		t.Errorf("a second review of the line: exit %d, %s", code, out)
	}
	if code, out, _ := ctl(app, "activity", "report", "ann", "CHECK_IN", "--request-id", "check-in-1"); code != exitOK || !strings.Contains(out, `"reason": "NO_MATCHING_CAMPAIGN"`) {
		t.Errorf("a check-in no campaign covers: exit %d, %s", code, out)
	}
	if code, _, errOut := ctl(app, "activity", "report", "ann", "DANCING"); code != exitError || !strings.Contains(errOut, "type") {
		t.Errorf("an unknown type: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{{"activity", "report", "ann"}, {"activity", "types", "extra"}, {"coupons", "set-allowance"},
		{"coupons", "set-allowance", "--campaign", "cmp_x", "--off"}} {
		if code, _, _ := ctl(app, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := ctl(env.Key(access.RoleAuditor), "activity", "report", "ann", "CHECK_IN"); code != exitError || !strings.Contains(errOut, "PERMISSION_DENIED") {
		t.Errorf("an auditor reporting: exit %d, %q", code, errOut)
	}

	drop := campaign(`{"displayName": "Monthly", "type": "COUPON_DROP", "coupon": {"kind": "FREE_SHIPPING", "validDays": 30}}`)
	if code, _, errOut := ctl(marketer, "coupons", "set-allowance", "--campaign", "cmp_nope"); code != exitError || !strings.Contains(errOut, "campaignId:") {
		t.Errorf("an unknown allowance campaign: exit %d, %q", code, errOut)
	}
	if code, out, errOut := ctl(marketer, "coupons", "set-allowance", "--campaign", drop); code != exitOK || !strings.Contains(out, drop) {
		t.Errorf("coupons set-allowance: exit %d, %s %s", code, out, errOut)
	}
	if code, out, _ := ctl(marketer, "coupons", "allowance"); code != exitOK || !strings.Contains(out, `"campaignId": "`+drop+`"`) {
		t.Errorf("coupons allowance: exit %d, %s", code, out)
	}
	if code, _, _ := ctl(marketer, "coupons", "set-allowance", "--off"); code != exitOK {
		t.Errorf("coupons set-allowance --off: exit %d", code)
	}
	if code, out, _ := ctl(marketer, "coupons", "allowance"); code != exitOK || strings.Contains(out, drop) {
		t.Errorf("coupons allowance after --off: exit %d, %s", code, out)
	}
}
