package webhookhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// DefaultTimeout bounds one attempt, connection to last byte of the answer.
const DefaultTimeout = 10 * time.Second

// MaxAttemptsInFlight is how many attempts a dispatcher's round makes at once, at
// most (the dispatcher claims that many deliveries per step).
const MaxAttemptsInFlight = 64

// Sender makes delivery attempts.
type Sender struct {
	client *http.Client
}

// NewSender is a sender whose connections the guard checks, with a time limit per
// attempt (0: DefaultTimeout).
func NewSender(g *Guard, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		// The address actually dialled, after resolution: a name that resolved to
		// a public address when the endpoint was registered may not any more.
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: dial %s: %w", address, err)
		}
		if !g.Admits(ap.Addr()) {
			return fmt.Errorf("webhook: %s is an address the allow-list does not admit", ap.Addr())
		}
		return nil
	}}
	transport := &http.Transport{
		// No proxy from the environment: the guard must see the real destination.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: timeout,
		// Keep a connection for each attempt a dispatcher's round may have in flight
		// to one endpoint: with fewer, each round closed most of its connections and
		// opened new ones, and at a thousand deliveries a second the closed ones
		// (TIME_WAIT, a minute each) crowd the ephemeral ports of the machine.
		MaxIdleConnsPerHost: MaxAttemptsInFlight,
		MaxIdleConns:        4 * MaxAttemptsInFlight,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Sender{client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect is an answer, not an instruction: 3xx is not 2xx, so it fails.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Delivery is one attempt to make.
type Delivery struct {
	URL string
	// ID is the webhook-id: the event's id, the same on every attempt.
	ID string
	// Time is the webhook-timestamp, the attempt's (wall clock) time.
	Time    time.Time
	Body    []byte
	Secrets [][]byte
}

// Result is how an attempt went.
type Result struct {
	StatusCode int // 0: no answer
	Latency    time.Duration
	Err        error // why it failed; nil for a 2xx
}

// OK tells whether the attempt succeeded: any 2xx.
func (r Result) OK() bool { return r.Err == nil }

// maxAnswer is how much of an answer's body is read (to reuse the connection).
const maxAnswer = 64 << 10

// Send makes one attempt.
func (s *Sender) Send(ctx context.Context, d Delivery) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{Err: err}
	}
	ts := d.Time.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "loyalty-webhooks/1")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", webhooksig.Header(d.Secrets, d.ID, ts, d.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			err = errors.New("timed out")
		}
		return Result{Latency: time.Since(start), Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	r := Result{StatusCode: resp.StatusCode, Latency: time.Since(start)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		r.Err = fmt.Errorf("answered %d", resp.StatusCode)
	}
	return r
}
