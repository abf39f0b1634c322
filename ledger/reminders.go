package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/reminders"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// RemindExpiring sends the expiry reminders that are due (the program's
// expiryReminderDays before points expire): one points.expiring event per member,
// expiry instant and reminder day, with the points that expire then, recorded with
// its reminder in one transaction so that none is sent twice or lost. At most limit
// of them per call; it answers how many it sent.
func (s *Service) RemindExpiring(ctx context.Context, limit int32) (int, error) {
	prog, err := s.programOn(ctx, s.pool)
	if err != nil {
		return 0, err
	}
	if len(prog.ExpiryReminderDays) == 0 {
		return 0, nil
	}
	now := s.clock.Now()
	var sent int
	err = s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if limit >= largeBatch {
			// Planned for its size, like a large batch (see largeBatch).
			if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
				return err
			}
		}
		w := reminders.WindowsAt(prog.ExpiryReminderDays, now)
		rows, err := s.q.RemindExpiring(ctx, tx, ledgerdb.RemindExpiringParams{After: w.After, Until: w.Until, Days: w.Days, Now: now, MaxRows: limit})
		if err != nil {
			return fmt.Errorf("expiry reminders: %w", err)
		}
		evs := make([]events.Event, len(rows))
		for i, r := range rows {
			evs[i] = events.Event{Type: events.PointsExpiring, OccurTime: now, MemberID: r.MemberID,
				Data: events.ExpiringData{Points: r.Points, ExpireTime: r.ExpireTime, DaysBefore: int(r.DaysBefore)}}
		}
		sent = len(rows)
		return events.AppendTx(ctx, tx, evs...)
	})
	return sent, err
}
