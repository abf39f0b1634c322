package businessclock

import (
	"testing"
	"time"
)

// Business time never goes backwards in a process, even when the wall clock is
// stepped back; it runs on again once the wall clock has caught up.
func TestNowNeverGoesBack(t *testing.T) {
	wall := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := &Clock{wall: func() time.Time { return wall }, offset: 48 * time.Hour}
	first := c.Now()
	if want := wall.Add(48 * time.Hour); !first.Equal(want) {
		t.Fatalf("now %s, want the wall clock plus the offset, %s", first, want)
	}
	wall = wall.Add(-10 * time.Minute) // NTP steps the wall clock back
	if got := c.Now(); !got.Equal(first) {
		t.Fatalf("after the wall clock stepped back: %s, want it to stand at %s", got, first)
	}
	if got, _ := c.Read(); !got.Equal(first) {
		t.Fatalf("Read after the step back: %s, want %s", got, first)
	}
	wall = wall.Add(11 * time.Minute)
	if got, want := c.Now(), first.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("once the wall clock caught up: %s, want %s", got, want)
	}
}

// An instant handed out has microsecond resolution, the resolution PostgreSQL
// stores, so what an answer shows is what was stored.
func TestNowHasMicrosecondResolution(t *testing.T) {
	wall := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	c := &Clock{wall: func() time.Time { return wall }}
	if got := c.Now(); got.Nanosecond() != 123456000 {
		t.Fatalf("now %s, want it truncated to the microsecond", got.Format(time.RFC3339Nano))
	}
}
