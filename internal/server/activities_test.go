package server_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// photoReviews is an ACTIVITY_REWARD campaign: 20 points a photo review, three a
// day, one per reviewed order line.
const photoReviews = `{"displayName": "Photo reviews", "type": "ACTIVITY_REWARD",
 "activity": {"activityTypes": ["REVIEW_WITH_PHOTO"], "points": 20, "caps": {"perDay": 3, "perWeek": 10, "perActivityKey": 1}},
 "budget": {"points": 100000}}`

func shanghaiProgram(t *testing.T, env *apitest.Env) {
	t.Helper()
	must200(t, "program", env.REST("PUT", "/v1/program", apitest.AdminKey, map[string]any{"earnPoints": 1, "earnPerAmountMinor": 100,
		"returnWindowDays": 7, "expiry": map[string]any{"kind": "END_OF_FOLLOWING_YEAR"}, "pointsPerUnit": 100,
		"currencies": []string{"CNY"}, "timeZone": "Asia/Shanghai"}))
}

func recordActivity(env *apitest.Env, key, member, requestID, typ, activityKey string, at time.Time) apitest.Response {
	body := map[string]any{"requestId": requestID, "type": typ, "activityKey": activityKey}
	if !at.IsZero() {
		body["occurTime"] = at.UTC().Format(time.RFC3339Nano)
	}
	return env.REST("POST", "/v1/members/"+member+"/activities", key, body)
}

// The daily cap counts the program's days: an activity a second before midnight in
// Shanghai is yesterday's, three after it fill today, the fourth is refused; a
// second review of one order line earns nothing; the statement shows the ACTIVITY
// entries.
func TestActivityRewardsCapsPerProgramDay(t *testing.T) {
	env := apitest.Start(t)
	app, marketer := env.Key(access.RoleApp), env.Key(access.RoleMarketer)
	shanghaiProgram(t, env)
	c := createCampaign(t, env, marketer, photoReviews)
	id := c["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	enroll(t, env, app, "rae")

	sh, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now().In(sh)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, sh)
	if now.Sub(midnight) < 10*time.Second {
		midnight = midnight.AddDate(0, 0, -1) // the test needs a few seconds after it
	}
	granted := func(r apitest.Response) int64 {
		t.Helper()
		must200(t, "activity", r)
		return num(t, r.Body["points"])
	}
	if p := granted(recordActivity(env, app, "rae", "rv-0", "REVIEW_WITH_PHOTO", "o1/l0", midnight.Add(-time.Second))); p != 20 {
		t.Fatalf("before midnight: %d points, want 20", p)
	}
	for i := 1; i <= 3; i++ {
		if p := granted(recordActivity(env, app, "rae", fmt.Sprintf("rv-%d", i), "REVIEW_WITH_PHOTO", fmt.Sprintf("o1/l%d", i), midnight.Add(time.Duration(i)*time.Second))); p != 20 {
			t.Fatalf("review %d after midnight: %d points, want 20", i, p)
		}
	}
	fourth := must200(t, "fourth", recordActivity(env, app, "rae", "rv-4", "REVIEW_WITH_PHOTO", "o1/l4", midnight.Add(4*time.Second)))
	if num(t, fourth.Body["points"]) != 0 || refusalOf(t, fourth, id) != "DAILY_CAP_REACHED" {
		t.Fatalf("the fourth of the day: %s", fourth.Raw)
	}
	// The same order line again (another type's campaign would count it too).
	again := must200(t, "same line", recordActivity(env, app, "rae", "rv-5", "REVIEW_WITH_PHOTO", "o1/l1", midnight.Add(5*time.Second)))
	if again.Body["replayed"] != true || again.Body["requestId"] != "rv-1" {
		t.Fatalf("a duplicate activity must answer the first: %s", again.Raw)
	}
	// A repeat of the request answers it; another body under its id is refused.
	if r := recordActivity(env, app, "rae", "rv-4", "REVIEW_WITH_PHOTO", "o1/l4", midnight.Add(4*time.Second)); r.Body["replayed"] != true {
		t.Fatalf("repeat: %s", r.Raw)
	}
	if r := recordActivity(env, app, "rae", "rv-4", "SHARE", "", time.Time{}); r.Status != http.StatusConflict {
		t.Fatalf("another body under rv-4: %d %s", r.Status, r.Raw)
	}
	if r := recordActivity(env, app, "rae", "rv-9", "DANCE", "", time.Time{}); r.Status != http.StatusBadRequest {
		t.Fatalf("unknown type: %d %s", r.Status, r.Raw)
	}
	if r := recordActivity(env, app, "rae", "rv-9", "SHARE", "", time.Now().Add(-8*24*time.Hour)); r.Status != http.StatusBadRequest {
		t.Fatalf("too old: %d %s", r.Status, r.Raw)
	}
	if r := recordActivity(env, marketer, "rae", "rv-9", "SHARE", "", time.Time{}); r.Status != http.StatusForbidden {
		t.Fatalf("marketer: %d", r.Status)
	}
	// The dry run counts the same caps (today's three reviews are in).
	if midnight.Day() == time.Now().In(sh).Day() {
		sim := must200(t, "simulate", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
			"memberId": "rae", "activityType": "REVIEW_WITH_PHOTO", "activityKey": "o2/l1"}))
		if sim.Body["reason"] != "DAILY_CAP_REACHED" || sim.Body["eligible"] != true {
			t.Fatalf("simulate: %s", sim.Raw)
		}
		if sim := must200(t, "simulate share", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
			"memberId": "rae", "activityType": "SHARE"})); sim.Body["reason"] != "ACTIVITY_NOT_COVERED" {
			t.Fatalf("simulate a share: %s", sim.Raw)
		}
	}
	if b := balanceOf(t, env, app, "rae"); b.available != 80 {
		t.Fatalf("balance %+v, want 80 available", b)
	}
	n := 0
	for _, e := range activity(t, env, app, "rae") {
		if e["kind"] == "ACTIVITY" {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d ACTIVITY entries in the statement, want 4", n)
	}
	if got := getCampaign(t, env, marketer, id); num(t, obj(t, got["spent"])["points"]) != 80 {
		t.Fatalf("campaign spent %v, want 80", got["spent"])
	}
	verifyOK(t, env)
}

// Fifty copies of one activity (one type and key, fifty request ids) racing: one
// earns, the others answer its outcome; the books balance.
func TestRacingIdenticalActivitiesEarnOnce(t *testing.T) {
	env := apitest.Start(t)
	app, marketer := env.Key(access.RoleApp), env.Key(access.RoleMarketer)
	c := createCampaign(t, env, marketer, photoReviews)
	campaignDo(t, env, marketer, c["campaignId"].(string), "activate")
	enroll(t, env, app, "ray")

	var wg sync.WaitGroup
	points := make([]int64, 50)
	for i := range points {
		wg.Go(func() {
			r := recordActivity(env, app, "ray", fmt.Sprintf("race-%d", i), "REVIEW_WITH_PHOTO", "order-9/line-1", time.Time{})
			if r.Status != http.StatusOK {
				t.Errorf("race %d: %d %s", i, r.Status, r.Raw)
				return
			}
			if r.Body["replayed"] != true {
				points[i] = num(t, r.Body["points"])
			}
		})
	}
	wg.Wait()
	var sum int64
	firsts := 0
	for _, p := range points {
		sum += p
		if p > 0 {
			firsts++
		}
	}
	if sum != 20 || firsts != 1 {
		t.Fatalf("racing duplicates earned %d points in %d answers, want 20 in 1", sum, firsts)
	}
	if b := balanceOf(t, env, app, "ray"); b.available != 20 {
		t.Fatalf("balance %+v, want 20", b)
	}
	verifyOK(t, env)
}

func refusalOf(t *testing.T, r apitest.Response, campaignID string) string {
	t.Helper()
	for _, x := range list(t, r.Body["refusals"]) {
		if x["campaignId"] == campaignID {
			return x["reason"].(string)
		}
	}
	return ""
}
