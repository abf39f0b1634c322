// Package fakeclock is business time that tests move by hand.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a business clock standing still until moved; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// At is a clock standing at t.
func At(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
