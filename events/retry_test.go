package events_test

import (
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/events"
)

func TestRetryDelay(t *testing.T) {
	p := events.RetryPolicy{First: 5 * time.Second, Max: time.Minute, GiveUpAfter: time.Hour}
	for _, tc := range []struct {
		attempts int
		jitter   float64
		want     time.Duration
	}{
		{1, 0, 5 * time.Second},
		{2, 0, 10 * time.Second},
		{3, 0, 20 * time.Second},
		{4, 0, 40 * time.Second},
		{5, 0, time.Minute},
		{50, 0, time.Minute},
		{1, 0.5, 3750 * time.Millisecond},
		{5, 0.999, 30*time.Second + 30*time.Millisecond},
	} {
		if got := events.RetryDelay(p, tc.attempts, tc.jitter); got != tc.want {
			t.Errorf("RetryDelay(%d, %v) = %v, want %v", tc.attempts, tc.jitter, got, tc.want)
		}
	}
}

func TestGivesUp(t *testing.T) {
	p := events.RetryPolicy{GiveUpAfter: 72 * time.Hour}
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		after time.Duration
		want  bool
	}{{0, false}, {71 * time.Hour, false}, {72 * time.Hour, true}, {100 * time.Hour, true}} {
		if got := events.GivesUp(p, first, first.Add(tc.after)); got != tc.want {
			t.Errorf("GivesUp after %v = %v", tc.after, got)
		}
	}
}
