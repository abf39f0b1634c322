package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
)

func newWebhooks(t *testing.T, policy events.RetryPolicy) (*events.Webhooks, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.NewPool(t)
	w, err := events.NewWebhooks(pool, bytes.Repeat([]byte{1}, 32), pagetoken.Ephemeral(), policy)
	if err != nil {
		t.Fatal(err)
	}
	return w, pool
}

// fanOut fans out until n deliveries were made (the feed may lag a moment).
func fanOut(t *testing.T, w *events.Webhooks, n int) {
	t.Helper()
	made := 0
	for deadline := time.Now().Add(10 * time.Second); made < n; time.Sleep(5 * time.Millisecond) {
		m, err := w.FanOut(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		made += m
		if time.Now().After(deadline) {
			t.Fatalf("fan-out made %d deliveries, want %d", made, n)
		}
	}
}

func claimMembers(t *testing.T, w *events.Webhooks, now time.Time) []string {
	t.Helper()
	claims, err := w.ClaimDue(context.Background(), now, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range claims {
		var b struct {
			Type string
			Data struct {
				MemberID  string
				MemberSeq int64
			}
		}
		if err := json.Unmarshal(c.Body, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s#%d", b.Data.MemberID, b.Data.MemberSeq))
		ok := b.Data.MemberID != "a" || b.Data.MemberSeq != 1
		if err := w.Record(context.Background(), c, events.Attempt{OK: ok, StatusCode: 500}, now); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// A failing delivery of member a holds back a's later events for the endpoint, and
// nobody else's; a type filter still moves the endpoint past what it does not take.
func TestDeliveriesWaitForTheMembersEarlierOne(t *testing.T) {
	t.Parallel()
	w, pool := newWebhooks(t, events.RetryPolicy{First: time.Hour, Max: time.Hour, GiveUpAfter: 24 * time.Hour})
	ctx := context.Background()
	ep, secret, err := w.Create(ctx, events.CreateEndpoint{URL: "https://example.com/h", EventTypes: []events.Type{events.PointsEarned}}, time.Now())
	if err != nil || secret == "" {
		t.Fatal(err)
	}
	appendTx(t, pool, earned("a", 1), earned("b", 1), earned("a", 2), earned("b", 2),
		events.Event{Type: events.CouponIssued, OccurTime: t0, MemberID: "c"})
	fanOut(t, w, 4)

	now := time.Now()
	if got := fmt.Sprint(claimMembers(t, w, now)); got != "[a#1 b#1]" {
		t.Fatalf("first round claimed %s", got)
	}
	// a#1 failed (retry in an hour): a#2 waits; b#2 goes.
	if got := fmt.Sprint(claimMembers(t, w, now)); got != "[b#2]" {
		t.Fatalf("second round claimed %s", got)
	}
	if got := claimMembers(t, w, now); len(got) != 0 {
		t.Fatalf("third round claimed %v", got)
	}
	got, _ := w.Get(ctx, ep.ID)
	if !ep.Position.Less(got.Position) {
		t.Errorf("endpoint position %v did not move past %v", got.Position, ep.Position)
	}
	page, _, err := w.Deliveries(ctx, ep.ID, 10, "")
	if err != nil || len(page) != 4 {
		t.Fatalf("deliveries = %+v, %v", page, err)
	}
	// Newest first: b#2 a#2 b#1 a#1.
	if page[3].Status != events.DeliveryPending || page[3].Attempts != 1 || page[3].LastStatusCode != 500 || page[0].Status != events.DeliverySucceeded {
		t.Errorf("deliveries = %+v", page)
	}
	if n, err := w.ForgetOld(ctx, time.Now().Add(events.DeliveryRetention+time.Minute)); err != nil || n != 2 {
		t.Errorf("forgot %d deliveries (%v), want the 2 succeeded", n, err)
	}
}
