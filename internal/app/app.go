// Package app wires the domain services and the transport together. loyaltyd and the
// API tests build the server the same way through it.
package app

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/businessclock"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/server"
	"github.com/loyalty-engine/loyalty/internal/serversecret"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Options tune the server.
type Options struct {
	AdminKey        string // guaranteed to exist as an admin key, if set
	MaxBodyBytes    int
	ShutdownTimeout time.Duration
	// CallTimeout is the server's deadline for every call (zero: the server's
	// default); a client's shorter deadline wins.
	CallTimeout time.Duration
	// GroupCommitBatch and GroupCommitFlushers tune the ledger's group commit
	// (zero: the ledger's defaults; a batch of 1 commits every entry alone).
	GroupCommitBatch    int
	GroupCommitFlushers int
	// TimeTravel runs business time on a clock an admin can move forward
	// (POST /v1/clock:advance), for demos; off, business time is the wall clock.
	TimeTravel bool
	// TLS, when set, serves gRPC and REST over TLS with it; nil: plain text.
	TLS *tls.Config
}

// App is the wired application.
type App struct {
	Keys      *access.Service
	Ledger    *ledger.Service
	Tiers     *tiers.Service
	Campaigns *campaigns.Service
	Server    *server.Server
	// Clock is the movable business clock when TimeTravel is on, else nil.
	Clock *businessclock.Clock
}

// New builds the services on the pool and the server in front of them.
func New(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, opts Options) (*App, error) {
	a := &App{Keys: access.NewService(pool)}
	// Page tokens are signed with a key every replica shares and restarts keep.
	secret, err := serversecret.Get(ctx, pool, serversecret.PageTokens)
	if err != nil {
		return nil, err
	}
	pageTokens, err := pagetoken.New(secret)
	if err != nil {
		return nil, err
	}
	lopts := append(ledgerOptions(opts), ledger.WithPageTokens(pageTokens))
	topts := []tiers.Option{tiers.WithPageTokens(pageTokens)}
	if opts.TimeTravel {
		a.Clock = &businessclock.Clock{}
		lopts = append(lopts, ledger.WithClock(a.Clock))
		topts = append(topts, tiers.WithClock(a.Clock))
	}
	a.Tiers = tiers.NewService(pool, topts...)
	a.Ledger = ledger.NewService(pool, append(lopts, ledger.WithTiers(a.Tiers))...)
	var clock ledger.Clock = ledger.WallClock
	if a.Clock != nil {
		clock = a.Clock
	}
	a.Campaigns = campaigns.NewService(pool, a.Ledger, clock, campaigns.WithPageTokens(pageTokens))
	if opts.AdminKey != "" {
		if _, err := a.Keys.EnsureAdmin(ctx, opts.AdminKey); err != nil {
			return nil, err
		}
	}
	a.Server = server.New(server.Deps{
		Pool: pool, Keys: a.Keys, Ledger: a.Ledger, Tiers: a.Tiers, Campaigns: a.Campaigns, Log: log, Clock: a.Clock,
		MaxBodyBytes: opts.MaxBodyBytes, ShutdownTimeout: opts.ShutdownTimeout, TLS: opts.TLS, CallTimeout: opts.CallTimeout,
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
