package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// GoodwillAllowance is a limited key's goodwill limits and its use of them today.
type GoodwillAllowance struct {
	Limits       GoodwillLimits
	GrantedToday int64
	// DayEnd is when the business day (UTC, as grants count it) ends.
	DayEnd time.Time
}

// Remaining is what the key may still grant today without an approval.
func (a GoodwillAllowance) Remaining() int64 {
	return max(a.Limits.PerDay-a.GrantedToday, 0)
}

// GoodwillAllowanceOf reads a key's goodwill limits and what it granted on the
// business day GrantGoodwill counts against (for display: the grant decides again).
func (s *Service) GoodwillAllowanceOf(ctx context.Context, keyID string) (GoodwillAllowance, error) {
	limits, err := s.goodwillLimits(ctx, s.pool, keyID)
	if err != nil {
		return GoodwillAllowance{}, err
	}
	day := s.clock.Now().UTC().Truncate(24 * time.Hour)
	granted, err := s.q.GoodwillGrantedOn(ctx, s.pool, ledgerdb.GoodwillGrantedOnParams{KeyID: keyID, Day: day})
	if err != nil {
		return GoodwillAllowance{}, fmt.Errorf("goodwill granted by %s: %w", keyID, err)
	}
	return GoodwillAllowance{Limits: limits, GrantedToday: granted, DayEnd: day.Add(24 * time.Hour)}, nil
}
