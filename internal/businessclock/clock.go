// Package businessclock is the engine's business time when time travel is on: the
// wall clock plus an offset that only moves forward. loyaltyd turns it on in demo
// mode, so someone trying the engine can close a return window or expire points with
// one call instead of waiting days; production runs on the wall clock.
package businessclock

import (
	"sync"
	"time"
)

// Clock is the wall clock moved forward by Advance.
type Clock struct {
	mu     sync.RWMutex
	offset time.Duration
}

// Now is the business time.
func (c *Clock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return time.Now().Add(c.offset)
}

// Advance moves business time forward by d (a negative d is ignored: time does
// not run backwards, or expired points would come back) and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.offset += d
	}
	return time.Now().Add(c.offset)
}

// Offset is how far business time runs ahead of the wall clock.
func (c *Clock) Offset() time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.offset
}
