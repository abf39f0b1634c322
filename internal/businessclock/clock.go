// Package businessclock is the engine's one business clock: the time every stored
// instant is stamped with and every rule (return windows, hold and lot expiry, tier
// periods, campaign schedules) is judged by.
//
// Business time is the wall clock plus an offset. The offset is zero unless time
// travel (loyaltyd --demo or --time-travel=on) moved it forward, so that someone
// trying the engine can close a return window or expire points with one call
// instead of waiting days. The offset is kept in the database (one row), so a
// restart does not take business time back and every replica runs on the same time;
// it only grows, up to MaxOffset. Within a process business time never goes
// backwards, even when the wall clock is stepped back.
package businessclock

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/businessclock/internal/clockdb"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// MaxOffset is how far ahead of the wall clock time travel may take business time:
// 20 years (7300 days) covers any demo (points expire at the end of the following
// year, a tier holds for a year) and keeps every business instant far from the
// 292 years a time.Duration can hold, so offsets never wrap.
const MaxOffset = 7300 * 24 * time.Hour

// FollowEvery is how often a clock reads the persisted offset, so that an advance
// made on another replica applies here within about a second.
const FollowEvery = 500 * time.Millisecond

// maxDays is MaxOffset in days, as the API counts it.
const maxDays = int64(MaxOffset / (24 * time.Hour))

// ErrTimeTravelLimit refuses an advance that would take business time past
// MaxOffset ahead of the wall clock.
var ErrTimeTravelLimit = problem.New(problem.Invalid, "TIME_TRAVEL_LIMIT",
	fmt.Sprintf("business time may run at most %d days (20 years) ahead of the wall clock", maxDays))

// NextOffset is the rule of time travel: the offset after moving business time
// forward by d from offset. It refuses a d that does not move forward (time never
// runs backwards, or expired points would come back) and one that would take the
// offset past MaxOffset; the error names the request's days and hours.
func NextOffset(offset, d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return offset, problem.InvalidFields(
			problem.FieldViolation{Field: "days", Description: "give days or hours to move business time forward"},
			problem.FieldViolation{Field: "hours", Description: "give days or hours to move business time forward"})
	}
	left := MaxOffset - offset
	if d <= left {
		return offset + d, nil
	}
	why := fmt.Sprintf("must keep business time within %d days of the wall clock: it is %s ahead, so at most %s more",
		maxDays, daysHours(offset), daysHours(left))
	err := *ErrTimeTravelLimit.With("business time may run at most %d days (20 years) ahead of the wall clock, "+
		"and moving it %s forward would take it past that", maxDays, daysHours(d)).
		WithMetadata("maxOffsetDays", strconv.FormatInt(maxDays, 10),
			"offsetHours", strconv.FormatInt(int64(offset/time.Hour), 10),
			"leftHours", strconv.FormatInt(int64(left/time.Hour), 10))
	err.Fields = []problem.FieldViolation{{Field: "days", Description: "with hours, " + why}, {Field: "hours", Description: "with days, " + why}}
	return offset, &err
}

// daysHours writes a duration as whole days and hours ("3650 days 5 hours").
func daysHours(d time.Duration) string {
	days, hours := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour)
	return fmt.Sprintf("%d days %d hours", days, hours)
}

// Clock is the business clock, safe for concurrent use.
type Clock struct {
	pool *pgxpool.Pool
	// tx runs the advance's transaction, again after a deadlock or serialization failure.
	tx   database.Runner
	q    *clockdb.Queries
	wall func() time.Time

	mu     sync.Mutex
	offset time.Duration
	last   time.Time // the latest business time handed out
}

// Open reads the persisted offset and returns the clock running on it. Call Follow
// to pick up advances made by other replicas.
func Open(ctx context.Context, pool *pgxpool.Pool) (*Clock, error) {
	c := &Clock{pool: pool, tx: database.NewRunner("businessclock"), q: clockdb.New(), wall: time.Now}
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Now is the business time: the wall clock plus the offset, at microsecond
// resolution (what PostgreSQL stores, so an instant handed out is the instant
// stored), and never earlier than an instant handed out before.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	// Round(0) drops the monotonic reading, so the comparison below is on wall
	// time: the one a stepped-back wall clock would take backwards.
	t := c.wall().Round(0).Add(c.offset).Truncate(time.Microsecond)
	if t.Before(c.last) {
		return c.last
	}
	c.last = t
	return t
}

// Read is business time and its offset ahead of the wall clock, read together.
func (c *Clock) Read() (time.Time, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(), c.offset
}

// Offset is how far business time runs ahead of the wall clock.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Advance moves business time forward by d for every replica (see NextOffset for
// what is refused) and returns the new business time and offset.
func (c *Clock) Advance(ctx context.Context, d time.Duration) (time.Time, time.Duration, error) {
	var next time.Duration
	err := c.tx.InTx(ctx, c.pool, func(tx pgx.Tx) error {
		micros, err := c.q.LockClockOffset(ctx, tx)
		if err != nil {
			return fmt.Errorf("read business clock: %w", err)
		}
		if next, err = NextOffset(time.Duration(micros)*time.Microsecond, d); err != nil {
			return err
		}
		if err := c.q.SetClockOffset(ctx, tx, next.Microseconds()); err != nil {
			return fmt.Errorf("move business clock: %w", err)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, 0, err
	}
	c.observe(next)
	now, offset := c.Read()
	return now, offset, nil
}

// Refresh reads the persisted offset.
func (c *Clock) Refresh(ctx context.Context) error {
	micros, err := c.q.ClockOffset(ctx, c.pool)
	if err != nil {
		return fmt.Errorf("read business clock: %w", err)
	}
	c.observe(time.Duration(micros) * time.Microsecond)
	return nil
}

// observe takes on an offset read or written; the offset only grows, so a read
// that raced with a newer advance never takes it back.
func (c *Clock) observe(offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = max(c.offset, offset)
}

// Follow reads the persisted offset every FollowEvery until ctx ends, so advances
// made on other replicas apply here. A failed read keeps the offset known and is
// logged; the next read tries again.
func (c *Clock) Follow(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(FollowEvery)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := c.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("business clock: cannot read the offset; keeping the one known", "error", err)
			failing = true
		case err == nil && failing:
			log.Info("business clock: reading the offset again")
			failing = false
		}
	}
}
