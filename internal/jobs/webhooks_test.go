package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
)

// verify checks a delivery's signature as a receiver would, written from the
// Standard Webhooks specification and not with the sender's code: the secret is
// the base64 after whsec_, the signed content id.timestamp.body, and any one of the
// space-separated v1 signatures may match.
func verify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("timestamp %q out of tolerance", ts)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature of %q matches", h.Get("webhook-signature"))
}

// delivery is what the receiver got.
type delivery struct {
	ID   string
	Type string `json:"type"`
	Data struct {
		MemberID  string `json:"memberId"`
		MemberSeq int64  `json:"memberSeq"`
		Points    int64  `json:"points"`
	} `json:"data"`
	Timestamp time.Time `json:"timestamp"`
	Sigs      int
}

// receiver is a webhook endpoint for tests: it verifies every signature with each
// secret it is given and answers what answer says.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	secrets []string
	answer  func(n int) int // the status for the nth request (1-based)
	n       int
	got     []delivery // the accepted (2xx) deliveries, in arrival order
	bad     []string
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{t: t, answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	for _, s := range r.secrets {
		if err := verify(s, req.Header, body); err != nil {
			r.bad = append(r.bad, err.Error())
		}
		// And as the Standard Webhooks reference library checks it.
		wh, err := standardwebhooks.NewWebhook(s)
		if err == nil {
			err = wh.Verify(body, req.Header)
		}
		if err != nil {
			r.bad = append(r.bad, "standard webhooks library: "+err.Error())
		}
	}
	status := r.answer(r.n)
	if status/100 == 2 {
		var d delivery
		if err := json.Unmarshal(body, &d); err != nil {
			r.bad = append(r.bad, "body: "+err.Error())
		}
		d.ID, d.Sigs = req.Header.Get("webhook-id"), len(strings.Fields(req.Header.Get("webhook-signature")))
		r.got = append(r.got, d)
	}
	w.WriteHeader(status)
}

func (r *receiver) setSecrets(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = s
}

// waitFor waits until the receiver accepted n deliveries and returns them. It
// fails when 20 s pass without a new one: a large backlog (the load test's, under
// the race detector) may take longer in all, as long as it keeps coming.
func (r *receiver) waitFor(n int) []delivery {
	r.t.Helper()
	deadline, last := time.Now().Add(20*time.Second), 0
	for {
		r.mu.Lock()
		got, bad := append([]delivery(nil), r.got...), append([]string(nil), r.bad...)
		r.mu.Unlock()
		if len(bad) > 0 {
			r.t.Fatalf("bad deliveries: %v", bad)
		}
		if len(got) >= n {
			return got
		}
		if len(got) > last {
			deadline, last = time.Now().Add(20*time.Second), len(got)
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("receiver accepted %d deliveries, want %d (none for 20 s)", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// startWebhooks runs a server whose webhooks may target loopback, with fast
// retries, and a dispatcher on its database.
func startWebhooks(t *testing.T, retry events.RetryPolicy) *apitest.Env {
	t.Helper()
	env := apitest.Start(t, func(o *app.Options) { o.WebhookAllow, o.WebhookRetry = loopback, retry })
	startDispatcher(t, env)
	return env
}

// startDispatcher runs a job queue with a webhook dispatcher on env's database.
func startDispatcher(t *testing.T, env *apitest.Env) {
	t.Helper()
	env.StartDispatcher(t, 20*time.Millisecond)
}

var fastRetry = events.RetryPolicy{First: 20 * time.Millisecond, Max: 100 * time.Millisecond, GiveUpAfter: time.Hour}

func createEndpoint(t *testing.T, env *apitest.Env, url string, types ...string) (id, secret string) {
	t.Helper()
	r := env.REST("POST", "/v1/webhookEndpoints", apitest.AdminKey, map[string]any{"url": url, "eventTypes": types, "description": "test"})
	if r.Status != http.StatusOK {
		t.Fatalf("create endpoint: %d %s", r.Status, r.Raw)
	}
	ep, _ := r.Body["endpoint"].(map[string]any)
	id, _ = ep["endpointId"].(string)
	secret, _ = r.Body["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || id == "" || ep["status"] != "ACTIVE" {
		t.Fatalf("create endpoint: %s", r.Raw)
	}
	return id, secret
}

func write(t *testing.T, env *apitest.Env, evs ...events.Event) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), env.Pool, func(tx pgx.Tx) error {
		return events.AppendTx(context.Background(), tx, evs...)
	}); err != nil {
		t.Fatal(err)
	}
}

func earned(member string, points int64) events.Event {
	return events.Event{Type: events.PointsEarned, OccurTime: time.Now(), MemberID: member,
		Data: events.EntryData{EntryID: "1", Kind: "EARN", Points: points, Available: points}}
}

// inMemberOrder fails unless each member's deliveries are numbered 1, 2, 3, ...
// in arrival order, each once.
func inMemberOrder(t *testing.T, got []delivery) map[string]int64 {
	t.Helper()
	last := map[string]int64{}
	for _, d := range got {
		if d.Data.MemberSeq != last[d.Data.MemberID]+1 {
			t.Fatalf("member %s: delivery of seq %d after %d", d.Data.MemberID, d.Data.MemberSeq, last[d.Data.MemberID])
		}
		last[d.Data.MemberID] = d.Data.MemberSeq
	}
	return last
}

func TestWebhookDeliveriesAreSignedAndOrdered(t *testing.T) {
	t.Parallel()
	env := startWebhooks(t, fastRetry)
	rcv := newReceiver(t, func(int) int { return http.StatusNoContent })
	id, secret := createEndpoint(t, env, rcv.srv.URL+"/hooks", "points.earned")
	rcv.setSecrets(secret)
	for i := range 5 {
		write(t, env, earned("alice", int64(i+1)), earned("bob", int64(10*i+1)))
	}
	write(t, env, events.Event{Type: events.CouponIssued, OccurTime: time.Now(), MemberID: "alice"}) // not subscribed
	got := rcv.waitFor(10)
	last := inMemberOrder(t, got)
	if last["alice"] != 5 || last["bob"] != 5 {
		t.Fatalf("deliveries = %+v", got)
	}
	ids := map[string]bool{}
	for _, d := range got {
		if d.Type != "points.earned" || d.Sigs != 1 || ids[d.ID] || d.Timestamp.IsZero() {
			t.Errorf("delivery %+v (repeated id: %v)", d, ids[d.ID])
		}
		ids[d.ID] = true
	}

	// The deliveries list tells what happened, newest first, page by page. The
	// receiver has the last delivery before the dispatcher has written its outcome,
	// so the list is read again until the newest one is no longer pending.
	var first map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := env.REST("GET", "/v1/webhookEndpoints/"+id+"/deliveries?pageSize=4", apitest.AdminKey, nil)
		list, _ := r.Body["deliveries"].([]any)
		if r.Status != http.StatusOK || len(list) != 4 || r.Body["nextPageToken"] == "" {
			t.Fatalf("deliveries: %d %s", r.Status, r.Raw)
		}
		first = list[0].(map[string]any)
		if first["status"] != "PENDING" || time.Now().After(deadline) {
			break
		}
	}
	if first["status"] != "SUCCEEDED" || first["attempts"] != float64(1) || first["lastStatusCode"] != float64(204) || first["deliverTime"] == nil {
		t.Errorf("delivery = %v", first)
	}
	if r := env.REST("GET", "/v1/webhookEndpoints/"+id+"/deliveries?pageToken=bogus", apitest.AdminKey, nil); r.Status != http.StatusBadRequest {
		t.Errorf("bad page token: %d", r.Status)
	}
	r := env.REST("GET", "/v1/webhookEndpoints", apitest.AdminKey, nil)
	if eps, _ := r.Body["endpoints"].([]any); len(eps) != 1 || strings.Contains(string(r.Raw), "whsec_") {
		t.Errorf("endpoints: %s", r.Raw)
	}
	if r := env.REST("DELETE", "/v1/webhookEndpoints/"+id, apitest.AdminKey, nil); r.Status != http.StatusOK {
		t.Errorf("delete: %d %s", r.Status, r.Raw)
	}
	if r := env.REST("GET", "/v1/webhookEndpoints/"+id, apitest.AdminKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("get after delete: %d %s", r.Status, r.Raw)
	}
}

func TestWebhookFailsThreeTimesThenGetsTheFourth(t *testing.T) {
	t.Parallel()
	env := startWebhooks(t, fastRetry)
	rcv := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	id, secret := createEndpoint(t, env, rcv.srv.URL)
	rcv.setSecrets(secret)
	write(t, env, earned("carol", 7))
	got := rcv.waitFor(1)
	if got[0].Data.MemberID != "carol" || got[0].Data.Points != 7 {
		t.Fatalf("delivery = %+v", got[0])
	}
	var d map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := env.REST("GET", "/v1/webhookEndpoints/"+id+"/deliveries", apitest.AdminKey, nil)
		list, _ := r.Body["deliveries"].([]any)
		if len(list) == 1 {
			d = list[0].(map[string]any)
			if d["status"] == "SUCCEEDED" || time.Now().After(deadline) {
				break
			}
		}
	}
	if d["status"] != "SUCCEEDED" || d["attempts"] != float64(4) || d["lastStatusCode"] != float64(200) || (d["lastError"] != nil && d["lastError"] != "") {
		t.Fatalf("delivery = %v", d)
	}
}

// The receiver is down while events for three members pile up; once it is back it
// gets every one, each member's in order, although their retries were jittered.
func TestWebhookReceiverDownForAWhileGetsEverythingInOrder(t *testing.T) {
	t.Parallel()
	env := startWebhooks(t, fastRetry)
	var mu sync.Mutex
	up := false
	rcv := newReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	_, secret := createEndpoint(t, env, rcv.srv.URL)
	rcv.setSecrets(secret)
	for i := range 10 {
		write(t, env, earned("m1", int64(i)), earned("m2", int64(i)))
		write(t, env, earned("m3", int64(i)))
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	up = true
	mu.Unlock()
	got := rcv.waitFor(30)
	last := inMemberOrder(t, got)
	if last["m1"] != 10 || last["m2"] != 10 || last["m3"] != 10 || len(got) != 30 {
		t.Fatalf("got %d deliveries, last seqs %v", len(got), last)
	}
}

func TestWebhookSecretRotationSignsWithBoth(t *testing.T) {
	t.Parallel()
	env := startWebhooks(t, fastRetry)
	rcv := newReceiver(t, func(int) int { return http.StatusOK })
	id, old := createEndpoint(t, env, rcv.srv.URL)
	r := env.REST("POST", "/v1/webhookEndpoints/"+id+":rotateSecret", apitest.AdminKey, map[string]any{})
	secret, _ := r.Body["secret"].(string)
	ep, _ := r.Body["endpoint"].(map[string]any)
	if r.Status != http.StatusOK || !strings.HasPrefix(secret, "whsec_") || secret == old || ep["previousSecretExpireTime"] == nil {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	// Both secrets verify the delivery, each on its own: a receiver that still has
	// the old one keeps working for 24 hours.
	rcv.setSecrets(old, secret)
	write(t, env, earned("dan", 1))
	if got := rcv.waitFor(1); got[0].Sigs != 2 {
		t.Fatalf("delivery had %d signatures, want 2", got[0].Sigs)
	}
}

// A delivery that keeps failing is given up and its endpoint disabled, with an
// event saying so; a replay enables it and delivers again.
func TestWebhookEndpointDisabledThenReplayed(t *testing.T) {
	t.Parallel()
	env := startWebhooks(t, events.RetryPolicy{First: 20 * time.Millisecond, Max: 50 * time.Millisecond, GiveUpAfter: 300 * time.Millisecond})
	var mu sync.Mutex
	up := false
	rcv := newReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	id, secret := createEndpoint(t, env, rcv.srv.URL, "points.earned")
	rcv.setSecrets(secret)
	write(t, env, earned("eve", 1))
	var ep map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ep, _ = env.REST("GET", "/v1/webhookEndpoints/"+id, apitest.AdminKey, nil).Body["endpoint"].(map[string]any)
		if ep["status"] == "DISABLED" {
			break
		}
	}
	if ep["status"] != "DISABLED" || !strings.Contains(fmt.Sprint(ep["disabledReason"]), "502") {
		t.Fatalf("endpoint = %v", ep)
	}
	feed := env.REST("GET", "/v1/events?types=webhook_endpoint.disabled", apitest.AdminKey, nil)
	evs, _ := feed.Body["events"].([]any)
	for deadline := time.Now().Add(10 * time.Second); len(evs) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		feed = env.REST("GET", "/v1/events?types=webhook_endpoint.disabled", apitest.AdminKey, nil)
		evs, _ = feed.Body["events"].([]any)
	}
	if len(evs) != 1 || !strings.Contains(string(feed.Raw), id) {
		t.Fatalf("disabled events: %s", feed.Raw)
	}
	r := env.REST("GET", "/v1/webhookEndpoints/"+id+"/deliveries", apitest.AdminKey, nil)
	list, _ := r.Body["deliveries"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "FAILED" {
		t.Fatalf("deliveries: %s", r.Raw)
	}
	deliveryID := list[0].(map[string]any)["deliveryId"].(string)

	mu.Lock()
	up = true
	mu.Unlock()
	// A retry of the failed delivery enables the endpoint and delivers it.
	r = env.REST("POST", "/v1/webhookEndpoints/"+id+"/deliveries/"+deliveryID+":retry", apitest.AdminKey, map[string]any{})
	if d, _ := r.Body["delivery"].(map[string]any); r.Status != http.StatusOK || d["status"] != "PENDING" {
		t.Fatalf("retry: %d %s", r.Status, r.Raw)
	}
	rcv.waitFor(1)
	// A replay from the start delivers every points.earned event again (the
	// disabled event is not subscribed), with the same webhook-id.
	r = env.REST("POST", "/v1/webhookEndpoints/"+id+":replay", apitest.AdminKey, map[string]any{"afterPosition": ""})
	if ep, _ := r.Body["endpoint"].(map[string]any); r.Status != http.StatusOK || ep["status"] != "ACTIVE" {
		t.Fatalf("replay: %d %s", r.Status, r.Raw)
	}
	got := rcv.waitFor(2)
	if got[0].ID != got[1].ID || got[1].Data.MemberID != "eve" {
		t.Fatalf("replayed deliveries = %+v", got)
	}
	if r := env.REST("POST", "/v1/webhookEndpoints/"+id+"/deliveries/999999:retry", apitest.AdminKey, map[string]any{}); r.Status != http.StatusNotFound {
		t.Errorf("retry of an unknown delivery: %d", r.Status)
	}
}

func TestWebhookURLsOnPrivateNetworksAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t) // no allow-list
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://169.254.169.254/", "ftp://example.com/"} {
		r := env.REST("POST", "/v1/webhookEndpoints", apitest.AdminKey, map[string]any{"url": u})
		if r.Status != http.StatusBadRequest || fmt.Sprint(r.FieldViolations()) != "[url]" || r.Reason() != "WEBHOOK_URL_REFUSED" {
			t.Errorf("%s: %d %s", u, r.Status, r.Raw)
		}
	}
	r := env.REST("POST", "/v1/webhookEndpoints", apitest.AdminKey, map[string]any{"url": "https://93.184.215.14/hook", "eventTypes": []string{"points.nope"}})
	if r.Status != http.StatusBadRequest || fmt.Sprint(r.FieldViolations()) != "[eventTypes]" {
		t.Errorf("unknown event type: %d %s", r.Status, r.Raw)
	}
}

// A dispatcher dies between claiming a delivery and recording its attempt (the
// event committed, the receiver never answered to it): once the claim's lease is
// over, another dispatcher delivers it.
func TestWebhookDeliveredAfterADispatcherDied(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t, func(o *app.Options) { o.WebhookAllow, o.WebhookRetry = loopback, fastRetry })
	rcv := newReceiver(t, func(int) int { return http.StatusOK })
	_, secret := createEndpoint(t, env, rcv.srv.URL)
	rcv.setSecrets(secret)
	write(t, env, earned("fay", 1), earned("fay", 2))
	ctx := context.Background()
	var claims []events.Claim
	for deadline := time.Now().Add(10 * time.Second); len(claims) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := env.App.Webhooks.FanOut(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		var err error
		if claims, err = env.App.Webhooks.ClaimDue(ctx, time.Now(), 500*time.Millisecond, 10); err != nil {
			t.Fatal(err)
		}
	}
	// Only fay's first event is first in line; the dead dispatcher took it.
	if len(claims) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(claims))
	}
	startDispatcher(t, env)
	got := rcv.waitFor(2)
	if inMemberOrder(t, got)["fay"] != 2 {
		t.Fatalf("deliveries = %+v", got)
	}
}
