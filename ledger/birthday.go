package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// BirthdayAccount funds the birthday bonuses.
const BirthdayAccount = "system:birthday"

// birthdayRequestID names a member's birthday entry of a year: the entries'
// unique (member, request id) index makes it once per member and year, whatever
// the replicas, restarts and racing runs, and the batch answers a second run's
// plan with the first entry (a repeat) under the member's lock.
func birthdayRequestID(year int) string { return "system#birthday:" + strconv.Itoa(year) }

// birthdayDates are the month-and-day pairs whose members have their birthday on
// the date: the date itself, and 29 February on 28 February of a year without one
// (Birthday.On is the rule; this only widens the search to its candidates).
func birthdayDates(year int, month time.Month, day int) (months, days []int16) {
	months, days = []int16{int16(month)}, []int16{int16(day)}
	if month == time.February && day == 28 && daysIn(year, time.February) == 28 {
		months, days = append(months, 2), append(days, 29)
	}
	return months, days
}

// GrantBirthdays grants each member whose birthday is today, in the program's time
// zone, the birthdayBonusPoints of their effective tier now: a BIRTHDAY entry
// (available + p, system:birthday − p), at most once per member and year
// (birthdayRequestID). It looks at up to limit members per batch, page after
// page, and answers how many it granted. Members of a tier without a bonus get
// nothing (and are looked at again on the next run of the day).
func (s *Service) GrantBirthdays(ctx context.Context, limit int32) (int, error) {
	now := s.clock.Now()
	prog, err := s.Program(ctx)
	if err != nil {
		return 0, err
	}
	local := now.In(prog.Location())
	year, month, day := local.Date()
	months, days := birthdayDates(year, month, day)
	policy, err := s.tiers.PolicyOn(ctx, s.pool)
	if err != nil {
		return 0, err
	}
	expire, err := s.lotExpiry(ctx, s.pool)
	if err != nil {
		return 0, err
	}
	requestID := birthdayRequestID(year)
	granted, after := 0, ""
	for {
		rows, err := s.q.BirthdaysOn(ctx, s.pool, ledgerdb.BirthdaysOnParams{Months: months, Days: days, After: after,
			RequestID: requestID, MaxMembers: limit})
		if err != nil {
			return granted, fmt.Errorf("find birthdays: %w", err)
		}
		var plans []plan
		for _, r := range rows {
			after = r.MemberID
			b := birthdayOf(r.BirthdayMonth, r.BirthdayDay, r.BirthdayYear)
			if m, d := b.On(year); m != month || d != day {
				continue
			}
			st, err := s.tiers.StandingAt(ctx, s.pool, policy, r.MemberID, now)
			if err != nil {
				return granted, err
			}
			points := policy.Tier(st.TierID).Perks.BirthdayBonusPoints
			if points <= 0 {
				continue
			}
			plans = append(plans, plan{memberID: r.MemberID, kind: KindBirthday, requestID: requestID,
				fingerprint: fingerprint("birthday", year), postings: []Posting{{AccountAvailable, points}, {BirthdayAccount, -points}},
				memo: "birthday bonus (" + st.TierID + ")", actorKeyID: "system", lotExpire: expire, at: now})
		}
		if len(plans) > 0 {
			out, err := s.sweep(ctx, plans)
			if err != nil {
				return granted, fmt.Errorf("grant birthday bonuses: %w", err)
			}
			for i, o := range out {
				switch {
				case o.err != nil:
					return granted, fmt.Errorf("birthday bonus of %s: %w", plans[i].memberID, o.err)
				case !o.replayed:
					granted++
				}
			}
		}
		if len(rows) < int(limit) {
			return granted, nil
		}
	}
}
