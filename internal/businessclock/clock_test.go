package businessclock_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/businessclock"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const day = 24 * time.Hour

func TestNextOffset(t *testing.T) {
	cases := []struct {
		name       string
		offset, by time.Duration
		want       time.Duration
		reason     string // of the refusal, "" when accepted
	}{
		{"forward from zero", 0, 8 * day, 8 * day, ""},
		{"hours add up", 8 * day, 5 * time.Hour, 8*day + 5*time.Hour, ""},
		{"up to the limit exactly", businessclock.MaxOffset - time.Hour, time.Hour, businessclock.MaxOffset, ""},
		{"one hour past the limit", businessclock.MaxOffset - time.Hour, 2 * time.Hour, 0, "TIME_TRAVEL_LIMIT"},
		{"at the limit, nothing more", businessclock.MaxOffset, time.Hour, 0, "TIME_TRAVEL_LIMIT"},
		{"a single move past the limit", 0, businessclock.MaxOffset + day, 0, "TIME_TRAVEL_LIMIT"},
		{"standing still", 3 * day, 0, 0, "INVALID_ARGUMENT"},
		{"backwards", 3 * day, -day, 0, "INVALID_ARGUMENT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := businessclock.NextOffset(c.offset, c.by)
			if c.reason == "" {
				if err != nil || got != c.want {
					t.Fatalf("NextOffset(%s, %s) = %s, %v; want %s", c.offset, c.by, got, err, c.want)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Invalid || p.Reason != c.reason {
				t.Fatalf("NextOffset(%s, %s) = %s, %v; want a refusal %s", c.offset, c.by, got, err, c.reason)
			}
			if got != c.offset {
				t.Fatalf("refused, the offset became %s; want it left at %s", got, c.offset)
			}
			var fields []string
			for _, f := range p.Fields {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, []string{"days", "hours"}) {
				t.Fatalf("fields %v, want days and hours", fields)
			}
		})
	}
}

// Fifteen advances of ten years: two fit under the 20-year limit, the other
// thirteen are refused, and the offset never wraps around.
func TestRepeatedAdvancesStopAtTheLimit(t *testing.T) {
	var offset time.Duration
	accepted := 0
	for i := 0; i < 15; i++ {
		next, err := businessclock.NextOffset(offset, 3650*day)
		if err == nil {
			accepted++
			offset = next
		} else if !errors.Is(err, businessclock.ErrTimeTravelLimit) {
			t.Fatalf("advance %d: %v", i+1, err)
		}
		if offset < 0 || offset > businessclock.MaxOffset {
			t.Fatalf("advance %d: offset %s out of bounds", i+1, offset)
		}
	}
	if accepted != 2 || offset != businessclock.MaxOffset {
		t.Fatalf("accepted %d advances, offset %s; want 2 and %s", accepted, offset, businessclock.MaxOffset)
	}
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// The offset lives in the database: a clock opened again (a restart) runs on it,
// and business time does not go back.
func TestOffsetSurvivesARestart(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	first, err := businessclock.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if first.Offset() != 0 {
		t.Fatalf("a fresh database: offset %s, want 0", first.Offset())
	}
	movedTo, offset, err := first.Advance(ctx, 400*day+3*time.Hour)
	if err != nil || offset != 400*day+3*time.Hour {
		t.Fatalf("advance: %s %v", offset, err)
	}
	again, err := businessclock.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if again.Offset() != offset {
		t.Fatalf("after a restart: offset %s, want %s", again.Offset(), offset)
	}
	if now := again.Now(); now.Before(movedTo) {
		t.Fatalf("after a restart business time went back from %s to %s", movedTo, now)
	}
}

// Two replicas: an advance on one reaches the other within about a second, and
// racing advances on both add up one after the other, never past the limit.
func TestReplicasShareTheClock(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := businessclock.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	b, err := businessclock.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	go b.Follow(ctx, quiet)
	start := time.Now()
	if _, _, err := a.Advance(ctx, 30*day); err != nil {
		t.Fatal(err)
	}
	for b.Offset() != 30*day {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("replica b still at offset %s after %s", b.Offset(), time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("replica b took %s to follow; want about a second at most", took)
	}
	if diff := b.Now().Sub(a.Now()); diff < -time.Second || diff > time.Second {
		t.Fatalf("replicas disagree on business time by %s", diff)
	}

	// 7300 - 30 days are left: 7 advances of 1000 days fit, 3 of the 10 do not.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(c *businessclock.Clock) {
			defer wg.Done()
			_, _, err := c.Advance(ctx, 1000*day)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, businessclock.ErrTimeTravelLimit):
				refused++
			default:
				t.Errorf("advance: %v", err)
			}
		}([]*businessclock.Clock{a, b}[i%2])
	}
	wg.Wait()
	if ok != 7 || refused != 3 {
		t.Fatalf("%d advances applied and %d refused; want 7 and 3", ok, refused)
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if want := 7030 * day; a.Offset() != want || b.Offset() != want {
		t.Fatalf("offsets %s and %s, want %s", a.Offset(), b.Offset(), want)
	}
}
