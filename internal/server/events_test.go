package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// writeEvents writes events straight to the outbox, as a domain's transaction does.
func writeEvents(t testing.TB, env *apitest.Env, evs ...events.Event) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), env.Pool, func(tx pgx.Tx) error {
		return events.AppendTx(context.Background(), tx, evs...)
	}); err != nil {
		t.Fatal(err)
	}
}

func earnedEvent(member string, points int64) events.Event {
	return events.Event{Type: events.PointsEarned, OccurTime: time.Now(), MemberID: member,
		Data: events.EntryData{EntryID: "1", Kind: "EARN", Points: points, Available: points}}
}

// feedREST reads GET /v1/events page by page from after until it has want events
// (the feed shows a commit once every older transaction of the cluster has ended).
func feedREST(t *testing.T, env *apitest.Env, key string, query url.Values, want int) ([]map[string]any, string) {
	t.Helper()
	var all []map[string]any
	pos := query.Get("afterPosition")
	for deadline := time.Now().Add(10 * time.Second); len(all) < want; {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("afterPosition", pos)
		q.Set("pageSize", "2")
		body := must200(t, "events", env.REST("GET", "/v1/events?"+q.Encode(), key, nil)).Body
		page, _ := body["events"].([]any)
		for _, e := range page {
			all = append(all, e.(map[string]any))
		}
		next, _ := body["nextPosition"].(string)
		if len(page) > 0 && next != all[len(all)-1]["position"] {
			t.Fatalf("nextPosition %q is not the last event's %v", next, all[len(all)-1]["position"])
		}
		if len(page) == 0 && next != pos {
			t.Fatalf("an empty page moved the position from %q to %q", pos, next)
		}
		pos = next
		if len(page) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the feed shows %d events, want %d", len(all), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return all, pos
}

func TestEventsFeedREST(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	auditor := env.Key(access.RoleAuditor)
	writeEvents(t, env, earnedEvent("alice", 10), earnedEvent("bob", 3), earnedEvent("alice", 5))
	writeEvents(t, env, events.Event{Type: events.CouponIssued, OccurTime: time.Now(), MemberID: "bob",
		Data: events.CouponData{CouponID: "cpn_1", CampaignID: "cmp_1"}})

	all, last := feedREST(t, env, auditor, url.Values{}, 4)
	var got []string
	for _, e := range all {
		got = append(got, fmt.Sprintf("%s/%s/%s", e["type"], e["memberId"], e["memberSeq"]))
	}
	if fmt.Sprint(got) != "[points.earned/alice/1 points.earned/bob/1 points.earned/alice/2 coupon.issued/bob/2]" {
		t.Fatalf("feed = %v", got)
	}
	data, _ := all[2]["data"].(map[string]any)
	if data["points"] != float64(5) || data["kind"] != "EARN" || all[2]["eventId"] == "" || all[2]["occurTime"] == nil {
		t.Errorf("event = %v", all[2])
	}

	// Resuming from the last position gives only what comes after it.
	writeEvents(t, env, earnedEvent("carol", 1))
	more, _ := feedREST(t, env, auditor, url.Values{"afterPosition": {last}}, 1)
	if more[0]["memberId"] != "carol" {
		t.Errorf("after %s: %v", last, more)
	}

	// Filters.
	bobs, _ := feedREST(t, env, auditor, url.Values{"memberId": {"bob"}}, 2)
	if bobs[1]["type"] != "coupon.issued" {
		t.Errorf("bob's events = %v", bobs)
	}
	coupons, _ := feedREST(t, env, auditor, url.Values{"types": {"coupon.issued", "coupon.redeemed"}}, 1)
	if coupons[0]["position"] != all[3]["position"] {
		t.Errorf("coupon events = %v", coupons)
	}

	// Bad input names the field; other roles are refused.
	r := env.REST("GET", "/v1/events?afterPosition=nope", auditor, nil)
	if r.Status != http.StatusBadRequest || fmt.Sprint(r.FieldViolations()) != "[afterPosition]" {
		t.Errorf("bad position: %d %s", r.Status, r.Raw)
	}
	r = env.REST("GET", "/v1/events?pageSize=1001", auditor, nil)
	if r.Status != http.StatusBadRequest || fmt.Sprint(r.FieldViolations()) != "[pageSize]" {
		t.Errorf("page size too big: %d %s", r.Status, r.Raw)
	}
	r = env.REST("GET", "/v1/events?types=points.nope", auditor, nil)
	if r.Status != http.StatusBadRequest || fmt.Sprint(r.FieldViolations()) != "[types]" {
		t.Errorf("bad type: %d %s", r.Status, r.Raw)
	}
	for _, role := range []access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer} {
		if r := env.REST("GET", "/v1/events", env.Key(role), nil); r.Status != http.StatusForbidden {
			t.Errorf("%s: status %d", role, r.Status)
		}
	}
	if r := env.REST("GET", "/v1/events", apitest.AdminKey, nil); r.Status != http.StatusOK {
		t.Errorf("admin: status %d", r.Status)
	}
}

func TestEventsGRPCListAndWatch(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	auditor := env.Key(access.RoleAuditor)
	client := loyaltyv1.NewEventServiceClient(env.Conn)
	writeEvents(t, env, earnedEvent("alice", 10), earnedEvent("bob", 3))

	ctx, cancel := context.WithTimeout(env.Ctx(auditor), 20*time.Second)
	defer cancel()
	stream, err := client.WatchEvents(ctx, &loyaltyv1.WatchEventsRequest{Types: []string{"points.earned"}})
	if err != nil {
		t.Fatal(err)
	}
	recv := func() *loyaltyv1.Event {
		t.Helper()
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		return msg.GetEvent()
	}
	first, second := recv(), recv()
	if first.GetMemberId() != "alice" || second.GetMemberId() != "bob" || first.GetData().GetFields()["points"].GetNumberValue() != 10 {
		t.Fatalf("watch: %v then %v", first, second)
	}
	// Live: written after the watch started; a type outside the filter is skipped.
	writeEvents(t, env, events.Event{Type: events.CouponIssued, OccurTime: time.Now(), MemberID: "alice"}, earnedEvent("alice", 7))
	if live := recv(); live.GetMemberSeq() != 3 || live.GetType() != "points.earned" {
		t.Fatalf("live event = %v", live)
	}

	// ListEvents over gRPC resumes after the watch's first event.
	var page *loyaltyv1.ListEventsResponse
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		page, err = client.ListEvents(env.Ctx(auditor), &loyaltyv1.ListEventsRequest{AfterPosition: first.GetPosition()})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.GetEvents()) == 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(page.GetEvents()) != 3 || page.GetEvents()[0].GetEventId() != second.GetEventId() {
		t.Fatalf("list after %s = %v", first.GetPosition(), page.GetEvents())
	}

	// The role table and authentication hold for the stream.
	for key, want := range map[string]codes.Code{env.Key(access.RoleApp): codes.PermissionDenied, "": codes.Unauthenticated, "lk_wrong": codes.Unauthenticated} {
		s, err := client.WatchEvents(env.Ctx(key), &loyaltyv1.WatchEventsRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != want {
			t.Errorf("watch with key %q: %v, want %s", key, err, want)
		}
	}
	s, err := client.WatchEvents(env.Ctx(auditor), &loyaltyv1.WatchEventsRequest{AfterPosition: "zz"})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("watch from a bad position: %v", err)
	}
}

func TestWatchEventsRoles(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	client := loyaltyv1.NewEventServiceClient(env.Conn)
	for name, allowed := range streamRoles {
		if name != loyaltyv1.EventService_WatchEvents_FullMethodName {
			t.Fatalf("no role test for stream %s", name)
		}
		for _, r := range access.Roles {
			ok := r == access.RoleAdmin || slices.Contains(allowed, r)
			key := apitest.AdminKey
			if r != access.RoleAdmin {
				key = env.Key(r)
			}
			ctx, cancel := context.WithTimeout(env.Ctx(key), 300*time.Millisecond)
			s, err := client.WatchEvents(ctx, &loyaltyv1.WatchEventsRequest{})
			if err == nil {
				_, err = s.Recv()
			}
			cancel()
			if got := status.Code(err); ok && got == codes.PermissionDenied || !ok && got != codes.PermissionDenied {
				t.Errorf("watch as %s: %v (allowed: %v)", r, err, ok)
			}
		}
	}
}

// A watch ends when the server shuts down (UNAVAILABLE: watch again elsewhere) and
// does not hold the shutdown up.
func TestWatchEventsEndsAtShutdown(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	stream, err := loyaltyv1.NewEventServiceClient(env.Conn).WatchEvents(env.Ctx(env.Key(access.RoleAuditor)), &loyaltyv1.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := stream.Recv()
		ended <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := env.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %v with a watch open", took)
	}
	select {
	case err := <-ended:
		if status.Code(err) != codes.Unavailable {
			t.Errorf("watch ended with %v, want UNAVAILABLE", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end")
	}
}
