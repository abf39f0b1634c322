package tiers

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/reminders"
	"github.com/loyalty-engine/loyalty/tiers/internal/tiersdb"
)

// RemindDowngrades decides the downgrade reminders that are due (the policy's
// downgradeReminderDays before a tier period or grace ends): a member not on track
// to keep the tier then (DowngradeDue) gets a tier.downgrade_due event with what it
// still needs; each (member, period end, reminder day) is decided once, when its
// window is entered, and recorded with its event in one transaction. At most limit
// members per call; it answers how many were decided.
func (s *Service) RemindDowngrades(ctx context.Context, limit int32) (int, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return 0, err
	}
	if len(p.DowngradeReminderDays) == 0 {
		return 0, nil
	}
	now := s.clock.Now()
	w := reminders.WindowsAt(p.DowngradeReminderDays, now)
	var decided int
	err = s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := s.q.DowngradeCandidates(ctx, tx, tiersdb.DowngradeCandidatesParams{
			After: w.After, Until: w.Until, Days: w.Days, Metric: p.Metric, WindowDays: p.WindowDays,
			BottomTierID: p.Bottom().ID, MaxRows: limit,
		})
		if err != nil {
			return fmt.Errorf("downgrade reminders: %w", err)
		}
		var rec tiersdb.RecordDowngradeRemindersParams
		var evs []events.Event
		for _, r := range rows {
			needed, next, due := DowngradeDue(p, r.TierID, r.MetricKept)
			rec.MemberIds = append(rec.MemberIds, r.MemberID)
			rec.PeriodEnds = append(rec.PeriodEnds, r.DueTime)
			rec.Days = append(rec.Days, r.DaysBefore)
			rec.TierIds = append(rec.TierIds, r.TierID)
			rec.KeepNeeded = append(rec.KeepNeeded, needed)
			if due {
				evs = append(evs, events.Event{Type: events.TierDowngradeDue, OccurTime: now, MemberID: r.MemberID,
					Data: events.DowngradeDueData{TierID: r.TierID, NextTierID: next, PeriodEnd: r.DueTime, KeepNeeded: needed,
						DaysBefore: int(r.DaysBefore)}})
			}
		}
		decided = len(rows)
		if decided == 0 {
			return nil
		}
		rec.Now = now
		if err := s.q.RecordDowngradeReminders(ctx, tx, rec); err != nil {
			return fmt.Errorf("record downgrade reminders: %w", err)
		}
		return events.AppendTx(ctx, tx, evs...)
	})
	return decided, err
}
