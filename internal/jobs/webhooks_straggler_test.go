package jobs_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A delivery whose endpoint answers slowly does not hold back the other members
// whose deliveries went in the same round: their next events go out while the slow
// attempt is still waiting for its answer.
func TestASlowAttemptDoesNotHoldBackOtherMembers(t *testing.T) {
	t.Parallel()
	env := startWebhooks(t, fastRetry)
	var mu sync.Mutex
	arrived := map[int64]time.Time{} // fast's memberSeq -> when it arrived
	var slowDone time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var d struct {
			Data struct {
				MemberID  string `json:"memberId"`
				MemberSeq int64  `json:"memberSeq"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &d)
		if d.Data.MemberID == "slow" {
			time.Sleep(1500 * time.Millisecond) // the dispatcher's attempts time out at 2 s
			mu.Lock()
			slowDone = time.Now()
			mu.Unlock()
		} else {
			mu.Lock()
			if _, ok := arrived[d.Data.MemberSeq]; !ok {
				arrived[d.Data.MemberSeq] = time.Now()
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	createEndpoint(t, env, srv.URL)
	write(t, env, earned("slow", 1), earned("fast", 1), earned("fast", 2), earned("fast", 3))

	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		third, done := arrived[3], slowDone
		mu.Unlock()
		if !third.IsZero() && !done.IsZero() {
			if !third.Before(done) {
				t.Fatalf("fast's third event arrived at %s, after the slow attempt ended at %s: the round waited for it",
					third.Format(time.StampMilli), done.Format(time.StampMilli))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast's third event %v, the slow attempt's end %v: not both within 20 s", third, done)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
