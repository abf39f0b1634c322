// Package settingscache keeps versioned settings (program, tier policy) a replica
// read, for a short while: hot paths need them on every call, and a query each
// time would cost a round trip per write. A change made on another replica
// reaches this one within the TTL; the replica that made it puts it at once.
package settingscache

import (
	"sync"
	"time"
)

// TTL is how long settings read are used before they are read again.
const TTL = time.Second

// Cache holds the newest version of settings seen.
type Cache[T any] struct {
	mu      sync.Mutex
	value   T
	version int64
	readAt  time.Time
}

// Get returns the settings held and whether they are fresh enough to use.
func (c *Cache[T]) Get() (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value, !c.readAt.IsZero() && time.Since(c.readAt) < TTL
}

// Put keeps settings just read or written, unless a newer version is held.
func (c *Cache[T]) Put(value T, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version >= c.version {
		c.value, c.version, c.readAt = value, version, time.Now()
	}
}
