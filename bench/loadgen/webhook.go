package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// webhookScenario is the earn load with one webhook endpoint subscribed to every
// event type, pointing at a receiver inside the load generator: what delivering
// costs the earn path, and the delivery lag.
const webhookScenario = "rest-earn-webhook"

// webhookLag is what the receiver saw of a webhook scenario. The lag of an earn is
// the time of the receiver's 2xx to its points.earned delivery (matched by the
// requestId in the event's data) minus the time the earn's answer reached the load
// generator: an upper bound of commit to 2xx (the answer comes after the commit),
// on one clock. An event delivered before its earn's answer was read counts 0.
type webhookLag struct {
	Earns      int64   `json:"earns"`      // earns answered inside the measured window
	Delivered  int64   `json:"delivered"`  // of them, delivered (2xx) by the end of the drain
	Deliveries int64   `json:"deliveries"` // every 2xx the receiver gave, any event, repeats included
	Repeats    int64   `json:"repeats"`    // attempts of an event the receiver had already accepted
	Refused    int64   `json:"refused"`    // attempts whose signature did not verify (never expected)
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	// DrainSeconds is how long the load generator waited after the load for the
	// last deliveries.
	DrainSeconds float64 `json:"drainSeconds"`
}

// hookRun is a webhook scenario in progress: the receiver, its endpoint, and the
// times to match.
type hookRun struct {
	srv        *http.Server
	endpointID string

	mu       sync.Mutex
	answered map[string]time.Time // requestId -> when the earn's answer was read
	arrived  map[string]time.Time // requestId -> the first 2xx to its points.earned
	lastSeen time.Time            // of the last delivery of any kind
	counts   webhookLag           // Deliveries, Repeats, Refused
}

// startHooks starts the receiver on a free loopback port and registers an endpoint
// for every event type at it. loyaltyd must admit loopback webhook URLs
// (--webhook-allow 127.0.0.0/8, as scripts/bench.sh starts it).
func startHooks(ctx context.Context, t *target) (*hookRun, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"url": "http://" + ln.Addr().String() + "/hooks", "description": "loadgen " + webhookScenario})
	b, err := t.rest(ctx, http.MethodPost, "/v1/webhookEndpoints", body)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("register the webhook endpoint (does loyaltyd admit loopback? --webhook-allow 127.0.0.0/8): %w", err)
	}
	var created struct {
		Endpoint struct {
			EndpointID string `json:"endpointId"`
		} `json:"endpoint"`
		Secret string `json:"secret"`
	}
	var secret []byte
	if err = json.Unmarshal(b, &created); err == nil {
		secret, err = webhooksig.Parse(created.Secret)
	}
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("register the webhook endpoint: answer %q: %w", oneLine(string(b), 200), err)
	}
	h := &hookRun{endpointID: created.Endpoint.EndpointID, answered: map[string]time.Time{}, arrived: map[string]time.Time{}}
	h.srv = &http.Server{
		Handler:           &webhookhttp.Receiver{Secret: secret, OnDelivery: h.received},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

// answer records when an earn's answer was read.
func (h *hookRun) answer(requestID string, at time.Time) {
	h.mu.Lock()
	h.answered[requestID] = at
	h.mu.Unlock()
}

func (h *hookRun) received(d webhookhttp.Received) {
	var requestID string
	if d.Type == "points.earned" {
		_ = json.Unmarshal(d.Data["requestId"], &requestID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastSeen = d.At
	switch {
	case d.SignatureErr != nil:
		h.counts.Refused++
		return
	case d.Status/100 != 2:
		return
	}
	h.counts.Deliveries++
	if d.Attempt > 1 {
		h.counts.Repeats++
	}
	if _, seen := h.arrived[requestID]; requestID != "" && !seen {
		h.arrived[requestID] = d.At
	}
}

// missing counts the earns answered in [from, to] not delivered yet.
func (h *hookRun) missing(from, to time.Time) (missing int, lastSeen time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, at := range h.answered {
		if _, ok := h.arrived[id]; !ok && !at.Before(from) && !at.After(to) {
			missing++
		}
	}
	return missing, h.lastSeen
}

// finish waits for the deliveries of the earns answered in [from, to] (until all
// came, nothing came for quiet, or drain is over) and measures their lag.
func (h *hookRun) finish(ctx context.Context, from, to time.Time, drain time.Duration) *webhookLag {
	const quiet = 10 * time.Second
	start := time.Now()
	for ctx.Err() == nil && time.Since(start) < drain {
		n, last := h.missing(from, to)
		if n == 0 || time.Since(last) > quiet && time.Since(start) > quiet {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.counts
	out.DrainSeconds = time.Since(start).Seconds()
	var lags []time.Duration
	for id, at := range h.answered {
		if at.Before(from) || at.After(to) {
			continue
		}
		out.Earns++
		if got, ok := h.arrived[id]; ok {
			lags = append(lags, max(got.Sub(at), 0))
		}
	}
	out.Delivered = int64(len(lags))
	if len(lags) > 0 {
		slices.Sort(lags)
		out.P50Ms, out.P99Ms, out.MaxMs = ms(percentile(lags, 50)), ms(percentile(lags, 99)), ms(lags[len(lags)-1])
	}
	return &out
}

// stop deletes the endpoint (no later scenario or run pays for deliveries) and
// stops the receiver.
func (h *hookRun) stop(ctx context.Context, t *target) {
	_, _ = t.rest(context.WithoutCancel(ctx), http.MethodDelete, "/v1/webhookEndpoints/"+h.endpointID, nil)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = h.srv.Close()
	}
}

// webhookEarn is rest-earn that records when each answer was read.
func webhookEarn(ctx context.Context, t *target, w *worker) error {
	m := w.member()
	id := w.requestID()
	body := []byte(`{"requestId":"` + id + `","points":"` + strconv.FormatInt(t.points, 10) + `"}`)
	if _, err := t.rest(ctx, http.MethodPost, t.earnPaths[m], body); err != nil {
		return err
	}
	if t.hooks != nil {
		t.hooks.answer(id, time.Now())
	}
	return nil
}

// fmtLag is a scenario's delivery lag on one line; "" for scenarios without one.
func fmtLag(l *webhookLag) string {
	if l == nil {
		return ""
	}
	s := fmt.Sprintf("%d of %d earns delivered, lag p50 %s, p99 %s, max %s; %d deliveries in all",
		l.Delivered, l.Earns, fmtMs(l.P50Ms), fmtMs(l.P99Ms), fmtMs(l.MaxMs), l.Deliveries)
	if l.Repeats > 0 {
		s += fmt.Sprintf(", %d repeated", l.Repeats)
	}
	if l.Refused > 0 {
		s += fmt.Sprintf(", %d BAD SIGNATURES", l.Refused)
	}
	return s
}

// printLags prints the delivery lag of every webhook scenario, under the table.
func printLags(w io.Writer, ss []summary) {
	for _, s := range ss {
		if s.Webhook != nil {
			fmt.Fprintf(w, "%s webhooks: %s (waited %.1fs after the load)\n", s.Name, fmtLag(s.Webhook), s.Webhook.DrainSeconds)
		}
	}
	for _, line := range commitLines(ss, false) {
		fmt.Fprintln(w, line)
	}
}

// webhookMarkdownLines are the lines under the markdown table for each webhook
// scenario: its lag, and its ops/s against rest-earn's of the same run.
func webhookMarkdownLines(ss []summary) []string {
	var plain *summary
	for i := range ss {
		if ss[i].Name == "rest-earn" {
			plain = &ss[i]
		}
	}
	var lines []string
	for _, s := range ss {
		l := s.Webhook
		if l == nil {
			continue
		}
		line := fmt.Sprintf("%s delivery lag (the receiver's 2xx − the earn's answer): p50 %s, p99 %s, max %s; %s of %s earns delivered",
			s.Name, mdMs(l.P50Ms), mdMs(l.P99Ms), mdMs(l.MaxMs), thousands(float64(l.Delivered)), thousands(float64(l.Earns)))
		if plain != nil && plain.OpsPerSec > 0 {
			line += fmt.Sprintf("; ÷ rest-earn (ops/s, same run): **%.2fx**", s.OpsPerSec/plain.OpsPerSec)
		}
		lines = append(lines, line)
	}
	return lines
}
