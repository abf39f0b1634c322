package ledger

import (
	"context"
	"fmt"
	"strconv"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// ReleasePending makes available, with a PENDING_RELEASE entry each, up to limit
// pending earnings whose return window is over, and returns how many it released.
// It finds them without a lock and releases them in one batch of the write path:
// the batch locks each earning's member and then its release row, and posts what
// is left of the earning as locked (releasable). Replicas may run it at once, and
// refunds may void the earning meanwhile: an earning released by another run, or
// voided to nothing, is skipped, so none is released twice.
func (s *Service) ReleasePending(ctx context.Context, limit int32) (int, error) {
	now := s.clock.Now()
	due, err := s.q.DueReleases(ctx, s.pool, ledgerdb.DueReleasesParams{Now: now, MaxReleases: limit})
	if err != nil {
		return 0, fmt.Errorf("find due pending points: %w", err)
	}
	if len(due) == 0 {
		return 0, nil
	}
	plans := make([]plan, len(due))
	for i, r := range due {
		plans[i] = plan{memberID: r.MemberID, kind: KindPendingRelease, requestID: systemRequestID("release", r.EntryID),
			fingerprint: fingerprint("release", r.EntryID),
			memo:        "return window over (entry " + strconv.FormatInt(r.EntryID, 10) + ")", actorKeyID: "system",
			release: &pendingRef{entryID: r.EntryID, now: now}}
	}
	out, err := s.sweep(ctx, plans)
	if err != nil {
		return 0, fmt.Errorf("release pending points: %w", err)
	}
	// The batch committed the others: a refusal is reported after counting them.
	released := 0
	var refused error
	for i, o := range out {
		switch {
		case o.err != nil && refused == nil:
			refused = fmt.Errorf("release entry %d: %w", plans[i].release.entryID, o.err)
		case o.err == nil && !o.replayed && !o.skipped:
			released++
		}
	}
	return released, refused
}
