package chaostest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ack is a write a client saw acknowledged (2xx), with what it answered.
type ack struct {
	kind   string // earn, redeem, hold, capture, orderEarn, refund, compensation, goodwill
	path   string
	body   []byte
	answer string // the ids of what it produced (see answerOf)
}

// rest is a REST client that behaves as real clients should: a transport error or
// a 5xx answer is retried with the same requestId and body until a definite
// answer comes or giveUp passes.
type rest struct {
	baseURL string
	http    *http.Client
	giveUp  time.Time
	retries atomic.Int64

	mu      sync.Mutex
	retried map[string]int // why: "transport error" or the 5xx status
}

func (r *rest) noteRetry(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retried == nil {
		r.retried = map[string]int{}
	}
	r.retried[why]++
}

func (r *rest) retryCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.retried)
}

// answer is a definite (not 5xx) REST answer.
type answer struct {
	status int
	body   map[string]any
	raw    []byte
}

// post sends the request until it gets a definite answer; ok is false when giveUp
// passed first.
func (r *rest) post(path string, body []byte) (answer, bool) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.retries.Add(1)
			if time.Now().After(r.giveUp) {
				return answer{}, false
			}
			time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond)
		}
		req, err := http.NewRequest(http.MethodPost, r.baseURL+path, bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.http.Do(req)
		if err != nil {
			r.noteRetry("transport error")
			continue
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			r.noteRetry("transport error")
			continue
		}
		if resp.StatusCode >= 500 {
			r.noteRetry(strconv.Itoa(resp.StatusCode))
			continue
		}
		a := answer{status: resp.StatusCode, raw: raw}
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return answer{status: resp.StatusCode, raw: raw}, true
		}
		return a, true
	}
}

// answerOf is what identifies a write's outcome: the ids in its answer (entries,
// holds, approvals), which a replay must repeat. Balances and statuses may have
// moved on since, ids never.
func answerOf(body map[string]any) string {
	var ids []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				switch k {
				case "entryId", "holdId", "approvalId":
					if s, ok := child.(string); ok && s != "" {
						ids = append(ids, path+"."+k+"="+s)
					}
				default:
					walk(path+"."+k, child)
				}
			}
		case []any:
			for i, child := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("", body)
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

// load is the mixed workload: each client works on a member of its own.
type load struct {
	t       *testing.T
	rest    *rest
	stop    atomic.Bool
	mu      sync.Mutex
	acks    []ack
	byKind  map[string]int
	unacked atomic.Int64 // writes given up on (never acknowledged, so never owed)
}

func newLoad(t *testing.T, baseURL string, giveUp time.Time) *load {
	return &load{
		t:      t,
		rest:   &rest{baseURL: baseURL, http: &http.Client{Timeout: 30 * time.Second}, giveUp: giveUp},
		byKind: map[string]int{},
	}
}

func (l *load) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// write posts a write and records it if acknowledged; it returns the answer's
// body, or nil when there is no acknowledged answer.
func (l *load) write(kind, path string, req map[string]any) map[string]any {
	body, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	a, ok := l.rest.post(path, body)
	switch {
	case !ok:
		l.unacked.Add(1)
		return nil
	case a.status == http.StatusOK:
		l.mu.Lock()
		l.acks = append(l.acks, ack{kind: kind, path: path, body: body, answer: answerOf(a.body)})
		l.byKind[kind]++
		l.mu.Unlock()
		return a.body
	case a.status == http.StatusBadRequest && strings.Contains(string(a.raw), "INSUFFICIENT_POINTS"):
		return nil // a definite refusal, nothing changed
	default:
		l.t.Errorf("%s %s: %d %s", kind, body, a.status, a.raw)
		return nil
	}
}

// launchCompensation creates and activates the COMPENSATION campaign late
// deliveries of the load are compensated from (before the faults; not a write the
// replay owes anything).
func (l *load) launchCompensation() {
	post := func(path string, req map[string]any) map[string]any {
		body, _ := json.Marshal(req)
		a, ok := l.rest.post(path, body)
		if !ok || a.status != http.StatusOK {
			l.t.Fatalf("%s: %d %s", path, a.status, a.raw)
		}
		return a.body
	}
	c := post("/v1/campaigns", map[string]any{"displayName": "Late delivery", "type": "COMPENSATION",
		"compensation": map[string]any{"eventTypes": []string{"LATE_DELIVERY"}, "minDelayHours": 48, "points": 30},
		"coupon":       map[string]any{"kind": "FREE_SHIPPING", "validDays": 30}})
	id, _ := c["campaignId"].(string)
	post("/v1/campaigns/"+id+":activate", map[string]any{})
}

// run works member "c<client>" until stop is set.
func (l *load) run(client int) {
	member := fmt.Sprintf("c%d", client)
	if l.write("enroll", "/v1/members", map[string]any{"memberId": member}) == nil {
		return
	}
	rnd := rand.New(rand.NewPCG(uint64(client), 42))
	for n := 0; !l.stop.Load(); n++ {
		id := func(step string) string { return fmt.Sprintf("%s-%d-%s", member, n, step) }
		points := int64(1 + rnd.IntN(50))
		switch op := rnd.IntN(100); {
		case op < 30:
			l.write("earn", "/v1/members/"+member+":earn", map[string]any{"requestId": id("earn"), "points": points * 4})
		case op < 50:
			l.write("redeem", "/v1/members/"+member+":redeem", map[string]any{"requestId": id("redeem"), "points": points})
		case op < 65:
			hold := l.write("hold", "/v1/members/"+member+"/holds", map[string]any{"requestId": id("hold"), "points": points, "ttl": "900s"})
			if hold == nil {
				continue
			}
			holdID, _ := hold["hold"].(map[string]any)["holdId"].(string)
			l.write("capture", "/v1/holds/"+holdID+":capture", map[string]any{"requestId": id("capture"), "points": max(points/2, 1)})
		case op < 85:
			order := id("order")
			spend := int64(10000 + rnd.IntN(40000))
			if l.write("orderEarn", "/v1/members/"+member+":earn", map[string]any{
				"requestId": id("order-earn"), "orderId": order, "spend": map[string]any{"amountMinor": spend, "currency": "CNY"},
			}) == nil {
				continue
			}
			if rnd.IntN(3) == 0 {
				// A late delivery: points and a coupon from the compensation campaign.
				l.write("compensation", "/v1/afterSalesEvents", map[string]any{
					"requestId": id("late"), "memberId": member, "orderId": order, "type": "LATE_DELIVERY", "delayHours": 72})
			}
			l.write("refund", "/v1/orders/"+order+":refund", map[string]any{"requestId": id("refund"), "memberId": member, "refundAmountMinor": spend / 4})
		default:
			l.write("goodwill", "/v1/members/"+member+":grantGoodwill", map[string]any{
				"requestId": id("goodwill"), "points": points, "reasonCode": "LATE_DELIVERY", "ticketId": "T-" + id("goodwill"),
			})
		}
	}
}

// replayAll sends every acknowledged write again, as it was sent, and counts those
// whose answer is not the same entry, hold or approval: writes lost or doubled.
func (l *load) replayAll(ctx context.Context, workers int) (lost int) {
	l.mu.Lock()
	acks := slices.Clone(l.acks)
	l.mu.Unlock()
	var next atomic.Int64
	var lostCount atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(acks) || ctx.Err() != nil {
					return
				}
				a := acks[i]
				got, ok := l.rest.post(a.path, a.body)
				if !ok || got.status != http.StatusOK || answerOf(got.body) != a.answer {
					lostCount.Add(1)
					l.t.Errorf("lost: %s %s %s answered %q first, now %d %s", a.kind, a.path, a.body, a.answer, got.status, got.raw)
				}
			}
		}()
	}
	wg.Wait()
	return int(lostCount.Load())
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// containsReason tells whether a REST error body carries the ErrorInfo reason.
func containsReason(raw []byte, reason string) bool {
	var body struct {
		Details []struct {
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return false
	}
	for _, d := range body.Details {
		if d.Reason == reason {
			return true
		}
	}
	return false
}
