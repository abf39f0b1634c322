package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// Deliveries signed by the sender's code are matched to the earns' answers by
// requestId; only the earns answered in the measured window count.
func TestWebhookLagMatchesDeliveriesToEarns(t *testing.T) {
	secret := webhooksig.NewSecret()
	h := &hookRun{answered: map[string]time.Time{}, arrived: map[string]time.Time{}}
	srv := httptest.NewServer(&webhookhttp.Receiver{Secret: secret, OnDelivery: h.received})
	defer srv.Close()
	sender := webhookhttp.NewSender(webhookhttp.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}), 2*time.Second)
	send := func(id, typ, requestID string, secrets ...[]byte) {
		body := []byte(`{"type":"` + typ + `","timestamp":"2026-12-01T10:00:00Z","data":{"kind":"EARN","points":10,"requestId":"` + requestID + `","memberId":"bench-1","memberSeq":2}}`)
		sender.Send(context.Background(), webhookhttp.Delivery{URL: srv.URL + "/hooks", ID: id, Time: time.Now(), Body: body, Secrets: secrets})
	}

	from := time.Now()
	h.answer("before-the-window", from.Add(-time.Second))
	send("e0", "points.earned", "before-the-window", secret)
	h.answer("r1", time.Now())
	time.Sleep(5 * time.Millisecond)
	send("e1", "points.earned", "r1", secret)
	send("e1", "points.earned", "r1", secret) // a repeat: the first 2xx counts
	h.answer("r2", time.Now())                // never delivered
	send("e2", "member.enrolled", "r2", secret)
	send("e3", "points.earned", "r3", webhooksig.NewSecret()) // not genuine
	to := time.Now()

	l := h.finish(context.Background(), from, to, 300*time.Millisecond)
	if l.Earns != 2 || l.Delivered != 1 || l.Deliveries != 4 || l.Repeats != 1 || l.Refused != 1 {
		t.Fatalf("lag = %+v", l)
	}
	if l.P50Ms < 5 || l.P50Ms != l.P99Ms || l.P99Ms != l.MaxMs || l.MaxMs > 1000 {
		t.Errorf("lag of the one delivered earn: %+v", l)
	}
	if l.DrainSeconds < 0.3 {
		t.Errorf("stopped waiting for r2 after %.2fs, -webhook-drain said 0.3s", l.DrainSeconds)
	}
}

func TestWebhookLagLines(t *testing.T) {
	ss := []summary{
		{Name: "rest-earn", OpsPerSec: 2000},
		{Name: webhookScenario, OpsPerSec: 1800, Webhook: &webhookLag{Earns: 36000, Delivered: 36000, Deliveries: 36000, P50Ms: 120, P99Ms: 450.4, MaxMs: 980}},
	}
	lines := webhookMarkdownLines(ss)
	want := "rest-earn-webhook delivery lag (the receiver's 2xx − the earn's answer): p50 120 ms, p99 450 ms, max 980 ms; " +
		"36,000 of 36,000 earns delivered; ÷ rest-earn (ops/s, same run): **0.90x**"
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("markdown lines = %q\nwant %q", lines, want)
	}
	var out bytes.Buffer
	printLags(&out, ss)
	if !strings.HasPrefix(out.String(), "rest-earn-webhook webhooks: 36000 of 36000 earns delivered, lag p50 120ms, p99 450ms, max 980ms; 36000 deliveries in all") {
		t.Errorf("printLags: %q", out.String())
	}
	if !isWrite(webhookScenario) {
		t.Error("rest-earn-webhook is a write scenario (its ratio to pgbench is printed)")
	}
}
