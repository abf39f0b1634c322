package app

import (
	"context"
	"log/slog"
	"time"
)

// RunBackground does the ledger's periodic work until ctx ends: releasing expired
// holds and rolling system postings up into system balances. Every step is safe to
// run on several replicas at once (row locks with SKIP LOCKED, and a roll-up that
// deletes what it adds in one statement).
func (a *App) RunBackground(ctx context.Context, log *slog.Logger, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		for {
			n, err := a.Ledger.ExpireHolds(ctx, 500)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("release expired holds", "error", err)
				}
				break
			}
			if n > 0 {
				log.Info("released expired holds", "holds", n)
			}
			if n < 500 {
				break
			}
		}
		if err := a.Ledger.RollUpSystemBalances(ctx); err != nil && ctx.Err() == nil {
			log.Error("roll up system balances", "error", err)
		}
	}
}
