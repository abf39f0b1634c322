package chaostest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// receiver is a webhook endpoint inside the test: it records each delivery's event
// id and, per member, the order in which the member's events first arrived.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	seen     map[string]bool    // event ids delivered (at least once)
	order    map[string][]int64 // member -> memberSeq, in first-arrival order
	attempts int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{seen: map[string]bool{}, order: map[string][]int64{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var d struct {
			Data struct {
				MemberID  string `json:"memberId"`
				MemberSeq int64  `json:"memberSeq"`
			} `json:"data"`
		}
		if err != nil || json.Unmarshal(body, &d) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		r.attempts++
		if !r.seen[id] {
			r.seen[id] = true
			if d.Data.MemberID != "" {
				r.order[d.Data.MemberID] = append(r.order[d.Data.MemberID], d.Data.MemberSeq)
			}
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// register subscribes the receiver to every event.
func (r *receiver) register(t *testing.T, l *load) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"url": r.srv.URL + "/hooks", "description": "chaos receiver"})
	if a, ok := l.rest.post("/v1/webhookEndpoints", body); !ok || a.status != http.StatusOK {
		t.Fatalf("register the receiver: %d %s", a.status, a.raw)
	}
}

// checkEvents checks what the outbox and the webhooks did through the faults: every
// entry has exactly one event, each member's events are numbered without a gap, and
// the receiver got every event (bounded wait: deliveries trail the commits), each
// member's in order.
func checkEvents(t *testing.T, ctx context.Context, databaseURL string, r *receiver) {
	t.Helper()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Errorf("connect to check the events: %v", err)
		return
	}
	defer conn.Close(ctx)
	var entries, withOne, gappy int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM entries),
		(SELECT count(*) FROM entries e WHERE (SELECT count(*) FROM events v WHERE v.data->>'entryId' = e.entry_id::text) = 1),
		(SELECT count(*) FROM (SELECT member_id FROM events WHERE member_id IS NOT NULL GROUP BY member_id
		                       HAVING max(member_seq) <> count(*) OR count(DISTINCT member_seq) <> count(*)) g)`).Scan(&entries, &withOne, &gappy); err != nil {
		t.Errorf("check the events: %v", err)
		return
	}
	if withOne != entries || gappy != 0 {
		t.Errorf("%d of %d entries have exactly one event; %d members' events have gaps or repeats", withOne, entries, gappy)
	}
	var want int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events e, webhook_endpoints w
		WHERE (e.feed_xid, e.id) > (w.feed_xid, w.feed_id)`).Scan(&want); err != nil {
		t.Errorf("count the events to deliver: %v", err)
		return
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r.mu.Lock()
		got := len(r.seen)
		r.mu.Unlock()
		if got >= want || time.Now().After(deadline) {
			if got < want {
				t.Errorf("the receiver got %d of the %d events written after it registered", got, want)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for member, seqs := range r.order {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("member %s: event %d arrived after event %d", member, seqs[i], seqs[i-1])
				break
			}
		}
	}
	t.Logf("webhooks: %d events delivered to the receiver in %d attempts", len(r.seen), r.attempts)
}
