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
// its reminder in one transaction so that none is sent twice or lost. Those of at
// most limit members per call (the first ones in member order); it answers how many
// it sent. RemindAllExpiring sends them all,
// in parallel.
func (s *Service) RemindExpiring(ctx context.Context, limit int32) (int, error) {
	shares, err := s.remindShares(ctx, 1)
	if err != nil || len(shares) == 0 {
		return 0, err
	}
	sent, _, err := s.remindChunk(ctx, shares[0], limit)
	return sent, err
}

// remindChunk is RemindExpiring for the next limit members of a share owning lots
// in the reminder windows (each member's reminders of this run in one chunk); the
// share moves past them. done: fewer than limit were left.
func (s *Service) remindChunk(ctx context.Context, share *sweepShare, limit int32) (sent int, done bool, err error) {
	prog, err := s.programOn(ctx, s.pool)
	if err != nil {
		return 0, false, err
	}
	if len(prog.ExpiryReminderDays) == 0 {
		return 0, true, nil
	}
	now := s.clock.Now()
	w := reminders.WindowsAt(prog.ExpiryReminderDays, now)
	after, until := widest(w)
	var members []string
	err = s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if limit >= largeBatch {
			// Planned for its size, like a large batch (see largeBatch).
			if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
				return err
			}
		}
		var err error
		members, err = s.q.MembersWithLotsExpiringIn(ctx, tx, ledgerdb.MembersWithLotsExpiringInParams{
			After: after, Until: until, AfterMember: share.after, Upto: share.upto, MaxMembers: limit})
		if err != nil || len(members) == 0 {
			return err
		}
		rows, err := s.q.RemindExpiring(ctx, tx, ledgerdb.RemindExpiringParams{After: w.After, Until: w.Until, Days: w.Days, Now: now, MemberIds: members})
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
	if err != nil {
		return 0, false, err
	}
	if len(members) > 0 {
		share.after = members[len(members)-1]
	}
	return sent, len(members) < int(limit), nil
}
