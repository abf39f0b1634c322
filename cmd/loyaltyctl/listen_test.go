package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/proctest"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// lockedBuffer is what a listener prints, read while it prints.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines are the JSON lines printed so far.
func (l *lockedBuffer) lines(t *testing.T) []listenLine {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []listenLine
	for _, s := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if s == "" {
			continue
		}
		var line listenLine
		if err := json.Unmarshal([]byte(s), &line); err != nil {
			t.Fatalf("not a JSON line: %q (%v)", s, err)
		}
		out = append(out, line)
	}
	return out
}

// startListener runs `webhooks listen` with args until the test ends.
func startListener(t *testing.T, args ...string) *lockedBuffer {
	t.Helper()
	out, status := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		fs := flag.NewFlagSet("webhooks listen", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		_, err := listenCommand().run(ctx, &client{stdout: out, stderr: status}, fs, args)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listen ended with %v", err)
		}
	})
	// Listening once it said so.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(status.String(), "listening on"); {
		select {
		case err := <-done:
			t.Fatalf("listen ended at once: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener never said it listens")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

// The sender's own code (the dispatcher on River, webhookhttp.Sender) delivers
// real events: the listener verifies each, fails the first two on purpose, and
// prints the retries and then every event once accepted, in member order.
func TestWebhooksListenVerifiesRealDeliveries(t *testing.T) {
	env := apitest.Start(t, func(o *app.Options) {
		o.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		o.WebhookRetry = events.RetryPolicy{First: 20 * time.Millisecond, Max: 100 * time.Millisecond, GiveUpAfter: time.Hour}
	})
	env.StartDispatcher(t, 20*time.Millisecond)
	ctl := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		getenv := func(name string) string {
			return map[string]string{"LOYALTY_GRPC_ADDR": env.GRPCAddr, "LOYALTY_API_KEY": apitest.AdminKey}[name]
		}
		if code := run(args, getenv, &out, &errOut); code != exitOK {
			t.Fatalf("%v: exit %d, %s", args, code, errOut.String())
		}
		return out.String()
	}

	addr := proctest.FreeAddr(t)
	var created struct{ Secret string }
	if err := json.Unmarshal([]byte(ctl("webhooks", "create", "--url", "http://"+addr+"/hooks")), &created); err != nil {
		t.Fatal(err)
	}
	out := startListener(t, "--addr", addr, "--secret", created.Secret, "--fail-first", "2")
	ctl("members", "enroll", "zed")
	ctl("points", "earn", "zed", "--points", "300", "--request-id", "zed-1")
	ctl("points", "redeem", "zed", "--points", "120", "--request-id", "zed-2")

	var lines []listenLine
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines = out.lines(t)
		ok := 0
		for _, l := range lines {
			if l.Status == http.StatusNoContent {
				ok++
			}
		}
		if ok == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 deliveries accepted? the listener printed %+v", lines)
		}
	}
	failedIDs := map[string]bool{}
	var accepted []listenLine
	for _, l := range lines {
		if l.Signature != "ok" {
			t.Errorf("a real delivery refused: %+v", l)
		}
		switch l.Status {
		case http.StatusServiceUnavailable:
			failedIDs[l.WebhookID] = true
		case http.StatusNoContent:
			accepted = append(accepted, l)
		}
	}
	if n := len(lines) - len(accepted); n != 2 {
		t.Errorf("%d attempts failed, --fail-first 2 says 2: %+v", n, lines)
	}
	wantTypes := []string{"member.enrolled", "points.earned", "points.redeemed"}
	for i, l := range accepted {
		if l.Type != wantTypes[i] || l.MemberID != "zed" || l.MemberSeq != int64(i+1) {
			t.Errorf("accepted delivery %d = %+v, want %s of zed, seq %d", i, l, wantTypes[i], i+1)
		}
		if failedIDs[l.WebhookID] != (l.Attempt > 1) {
			t.Errorf("delivery %+v: a retry of a failed attempt is numbered after it", l)
		}
	}
	if s := accepted[1].Summary; !strings.HasPrefix(s, "kind=EARN points=300 available=300") || !strings.Contains(s, "requestId=zed-1") {
		t.Errorf("earn summary = %q", s)
	}
}

// A delivery that is not genuine is answered 401 and said so; its body is not read.
func TestWebhooksListenRefusesTamperedDeliveries(t *testing.T) {
	secret := webhooksig.NewSecret()
	addr := proctest.FreeAddr(t)
	out := startListener(t, "--addr", addr, "--secret", webhooksig.Format(secret))
	body := []byte(`{"type":"points.earned","timestamp":"2026-12-01T10:00:00Z","data":{"points":120,"memberId":"alice","memberSeq":7}}`)
	sender := webhookhttp.NewSender(webhookhttp.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}), 2*time.Second)
	send := func(id string, secrets [][]byte, body []byte) int {
		return sender.Send(context.Background(), webhookhttp.Delivery{URL: "http://" + addr + "/", ID: id, Time: time.Now(), Body: body, Secrets: secrets}).StatusCode
	}
	if code := send("evt_good", [][]byte{secret}, body); code != http.StatusNoContent {
		t.Fatalf("a genuine delivery answered %d", code)
	}
	if code := send("evt_other", [][]byte{webhooksig.NewSecret()}, body); code != http.StatusUnauthorized {
		t.Errorf("another secret's delivery answered %d", code)
	}
	// Signed right, then changed on the way: 300 points instead of 120.
	ts := time.Now().Unix()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(bytes.Replace(body, []byte("120"), []byte("300"), 1)))
	req.Header.Set("webhook-id", "evt_tampered")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", webhooksig.Sign(secret, "evt_tampered", ts, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a tampered body answered %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + addr + "/"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", resp, err)
	}

	lines := out.lines(t)
	if len(lines) != 3 {
		t.Fatalf("printed %+v, want 3 lines", lines)
	}
	if l := lines[0]; l.WebhookID != "evt_good" || l.Signature != "ok" || l.Status != 204 || l.Type != "points.earned" ||
		l.MemberID != "alice" || l.MemberSeq != 7 || l.Summary != "points=120" || l.Attempt != 1 {
		t.Errorf("genuine: %+v", l)
	}
	for _, l := range lines[1:] {
		if l.Status != 401 || !strings.HasPrefix(l.Signature, "invalid: no matching signature") || l.Type != "" || l.MemberID != "" {
			t.Errorf("not genuine: %+v", l)
		}
	}
}

func TestWebhooksListenCommandLine(t *testing.T) {
	ctl := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(args, func(string) string { return "" }, &out, &errOut)
		return code, errOut.String()
	}
	// No key is needed, but a whsec_ secret is.
	for _, args := range [][]string{
		{"webhooks", "listen"},
		{"webhooks", "listen", "--secret", "not-a-secret"},
		{"webhooks", "listen", "--secret", webhooksig.Format(webhooksig.NewSecret()), "--fail-first", "-1"},
	} {
		if code, errOut := ctl(args...); code != exitUsage || strings.Contains(errOut, "API key") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if code, errOut := ctl("webhooks", "listen", "--secret", webhooksig.Format(webhooksig.NewSecret()), "--addr", "256.0.0.1:1"); code != exitError {
		t.Errorf("an address it cannot listen on: exit %d, %s", code, errOut)
	}
}

func TestListenSummary(t *testing.T) {
	for _, c := range []struct {
		data string
		want string
	}{
		{`{"entryId":"18","kind":"EARN","points":120,"available":1450,"pending":0,"held":0,"requestId":"r-1","memberId":"a","memberSeq":3}`,
			"kind=EARN points=120 available=1450 pending=0 held=0 entryId=18 requestId=r-1"},
		{`{"fromTierId":"silver","toTierId":"gold","change":"UPGRADE","periodEnd":"2027-12-01T00:00:00Z"}`,
			"fromTierId=silver toTierId=gold change=UPGRADE periodEnd=2027-12-01T00:00:00Z"},
		{`{"campaignId":"c","nested":{"a":1},"list":[1],"gone":null}`, "campaignId=c"},
		{`{}`, ""},
		{`{"memo":"` + strings.Repeat("é", 100) + `"}`, "memo=" + strings.Repeat("é", 77) + "…"},
	} {
		var data map[string]json.RawMessage
		if err := json.Unmarshal([]byte(c.data), &data); err != nil {
			t.Fatal(err)
		}
		if got := summary(data); got != c.want {
			t.Errorf("summary(%s) = %q, want %q", c.data, got, c.want)
		}
	}
}
