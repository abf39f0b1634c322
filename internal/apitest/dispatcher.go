package apitest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/jobs"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
)

// StartDispatcher runs a job queue with the webhook dispatcher on the
// environment's database, looking for deliveries every poll (loyaltyd runs one;
// the test server does not), and stops it when the test ends.
func (e *Env) StartDispatcher(t testing.TB, poll time.Duration) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := jobs.New(e.Pool, e.App.Ledger, e.App.Tiers, quiet, jobs.Options{Every: time.Hour, Webhooks: jobs.Webhooks{
		Store: e.App.Webhooks, Sender: webhookhttp.NewSender(e.App.WebhookGuard, 2*time.Second),
		Timeout: 2 * time.Second, Poll: poll, RunFor: time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
}
