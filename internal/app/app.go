// Package app wires the domain services and the transport together. loyaltyd and the
// API tests build the server the same way through it.
package app

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/businessclock"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/replica"
	"github.com/loyalty-engine/loyalty/internal/server"
	"github.com/loyalty-engine/loyalty/internal/serversecret"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Options tune the server.
type Options struct {
	AdminKey     string // guaranteed to exist as an admin key, if set
	MaxBodyBytes int
	// MaxImportBytes bounds a member import's upload (zero: the server's default).
	MaxImportBytes  int64
	ShutdownTimeout time.Duration
	// CallTimeout is the server's deadline for every call (zero: the server's
	// default); a client's shorter deadline wins.
	CallTimeout time.Duration
	// GroupCommitBatch and GroupCommitFlushers tune the ledger's group commit
	// (zero: the ledger's defaults; a batch of 1 commits every entry alone).
	GroupCommitBatch    int
	GroupCommitFlushers int
	// TimeTravel lets an admin move business time forward (POST /v1/clock:advance),
	// for demos. Off, the clock cannot be moved, but an offset persisted while it
	// was on still applies: business time never goes back.
	TimeTravel bool
	// TLS, when set, serves gRPC and REST over TLS with it; nil: plain text.
	TLS *tls.Config
	// WebhookAllow admits webhook endpoints on these (private) networks, which the
	// SSRF guard refuses otherwise; nil: public addresses only.
	WebhookAllow []netip.Prefix
	// WebhookRetry is when failed deliveries are attempted again and given up;
	// zero fields take events.DefaultRetryPolicy's.
	WebhookRetry events.RetryPolicy
	// Bulk tunes the bulk credits' job: the chunk (members a transaction
	// credits; zero takes bulk's default), the pause between chunks (zero:
	// none) and the chunks of one bulk credit at once (zero: bulk's default).
	Bulk bulk.Options
	// ReadPool, when set, is a streaming replica of the database: the reads that
	// may lag run on it (docs/SCALING.md, "Read replicas"), as Replica tunes.
	ReadPool *pgxpool.Pool
	Replica  replica.Options
}

// App is the wired application.
type App struct {
	Keys      *access.Service
	Ledger    *ledger.Service
	Tiers     *tiers.Service
	Campaigns *campaigns.Service
	Bulk      *bulk.Service
	Audit     *audit.Store
	Events    *events.Store
	Webhooks  *events.Webhooks
	// WebhookGuard is the SSRF guard of webhook endpoints: the API checks URLs
	// with it, the dispatcher's sender every connection.
	WebhookGuard *webhookhttp.Guard
	Server       *server.Server
	// Clock is the one business clock every service runs on, shared through the
	// database with the other replicas.
	Clock *businessclock.Clock
	// Reads routes reads between the primary and the read replica; its poller
	// runs until New's ctx ends.
	Reads *replica.Router
}

// New builds the services on the pool and the server in front of them. The business
// clock follows the offset persisted in the database (advances made by other
// replicas) until ctx ends.
func New(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, opts Options) (*App, error) {
	clock, err := businessclock.Open(ctx, pool)
	if err != nil {
		return nil, err
	}
	if offset := clock.Offset(); offset > 0 {
		log.Info("business time runs ahead of the wall clock", "offset", offset.String(), "timeTravel", opts.TimeTravel)
	}
	// Page tokens are signed with a key every replica shares and restarts keep.
	secret, err := serversecret.Get(ctx, pool, serversecret.PageTokens)
	if err != nil {
		return nil, err
	}
	pageTokens, err := pagetoken.New(secret)
	if err != nil {
		return nil, err
	}
	go clock.Follow(ctx, log)
	// The audit trail and the keys' last use run on business time, like the entries.
	a := &App{Keys: access.NewService(pool, access.WithClock(clock)), Audit: audit.NewStore(pool, clock, pageTokens), Clock: clock}
	a.Tiers = tiers.NewService(pool, tiers.WithClock(clock), tiers.WithPageTokens(pageTokens))
	a.Ledger = ledger.NewService(pool, a.Tiers, append(ledgerOptions(opts), ledger.WithClock(clock), ledger.WithPageTokens(pageTokens))...)
	a.Campaigns = campaigns.NewService(pool, a.Ledger, a.Tiers, clock, campaigns.WithLogger(log), campaigns.WithPageTokens(pageTokens))
	// The one link made after construction: the campaigns are built on the ledger
	// (they credit points through it), and the ledger applies the campaigns to
	// earnings (its Promotions), so one of the two must be set once both exist.
	// It is set here, before anything serves, and nowhere else.
	a.Ledger.SetPromotions(a.Campaigns)
	a.Bulk = bulk.NewService(pool, a.Ledger, a.Tiers, a.Campaigns, clock, opts.Bulk)
	if opts.AdminKey != "" {
		if _, err := a.Keys.EnsureAdmin(ctx, opts.AdminKey); err != nil {
			return nil, err
		}
	}
	a.Events = events.NewStore(pool)
	// Webhook secrets are sealed with a key every replica shares.
	sealingKey, err := serversecret.Get(ctx, pool, serversecret.WebhookSecrets)
	if err != nil {
		return nil, err
	}
	if a.Webhooks, err = events.NewWebhooks(pool, sealingKey, pageTokens, opts.WebhookRetry); err != nil {
		return nil, err
	}
	a.WebhookGuard = webhookhttp.NewGuard(opts.WebhookAllow)
	a.Reads = replica.New(pool, opts.ReadPool, log, opts.Replica)
	go a.Reads.Run(ctx)
	a.Server = server.New(server.Deps{
		Pool: pool, Keys: a.Keys, Ledger: a.Ledger, Tiers: a.Tiers, Campaigns: a.Campaigns, Bulk: a.Bulk, Audit: a.Audit, Events: a.Events,
		Webhooks: a.Webhooks, WebhookGuard: a.WebhookGuard,
		Log: log, Clock: clock, TimeTravel: opts.TimeTravel, Reads: a.Reads,
		MaxBodyBytes: opts.MaxBodyBytes, MaxImportBytes: opts.MaxImportBytes, ShutdownTimeout: opts.ShutdownTimeout, TLS: opts.TLS, CallTimeout: opts.CallTimeout,
	})
	return a, nil
}

func ledgerOptions(opts Options) []ledger.Option {
	if opts.GroupCommitBatch == 0 && opts.GroupCommitFlushers == 0 {
		return nil
	}
	batch, flushers := opts.GroupCommitBatch, opts.GroupCommitFlushers
	if batch == 0 {
		batch = ledger.DefaultMaxBatch
	}
	if flushers == 0 {
		flushers = ledger.DefaultMaxFlushers
	}
	return []ledger.Option{ledger.WithGroupCommit(batch, flushers)}
}
