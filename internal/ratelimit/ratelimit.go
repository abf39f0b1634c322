// Package ratelimit keeps one token bucket per API key (golang.org/x/time/rate) and
// says, for each call, whether the key may make it, how much of its quota is left,
// and how long to wait when it may not. The buckets live in this process: each
// replica limits the calls it serves.
package ratelimit

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// ErrRateLimited refuses a call over its key's rate limit.
var ErrRateLimited = problem.New(problem.Exhausted, "RATE_LIMITED", "too many requests")

// Limit is a token bucket's shape: refilled at PerSecond tokens a second, holding at
// most Burst. Both are at least 1.
type Limit struct {
	PerSecond int
	Burst     int
}

// Decision is the answer for one call.
type Decision struct {
	Allowed bool
	Limit   Limit
	// Remaining is the whole tokens left after the call (never negative).
	Remaining int
	// Reset is how long until the bucket holds one more whole token than
	// Remaining; zero when it is full.
	Reset time.Duration
	// RetryAfter is, for a refused call, how long until its tokens are there.
	RetryAfter time.Duration
}

// DefaultMaxKeys bounds how many keys' buckets are kept.
const DefaultMaxKeys = 100_000

const shards = 32

// Limiters holds the buckets. The zero value is not usable; call New.
type Limiters struct {
	seed    maphash.Seed
	shards  [shards]shard
	count   atomic.Int64
	maxKeys int64
	sweep   sync.Mutex
}

type shard struct {
	mu      sync.RWMutex
	buckets map[string]*bucket
}

// bucket is a key's limiter and the Limit it was made for, swapped as one when
// the key's limit changes, so the hot path reads it with one atomic load.
type bucket struct {
	cur atomic.Pointer[shaped]
}

type shaped struct {
	lim   *rate.Limiter
	limit Limit
}

// New returns empty Limiters that keep the buckets of at most maxKeys keys (0:
// DefaultMaxKeys).
func New(maxKeys int) *Limiters {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	l := &Limiters{seed: maphash.MakeSeed(), maxKeys: int64(maxKeys)}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
	}
	return l
}

// Take spends cost tokens of key's bucket at now if they are there. A new bucket
// starts full, and so does the bucket of a key whose limit changed: an admin who
// raises a throttled key's limit means it to go at once, and one who lowers it
// gives it at most the new burst. On the hot path (a known key, an unchanged
// limit) it allocates nothing.
func (l *Limiters) Take(key string, limit Limit, cost int, now time.Time) Decision {
	lim := l.limiter(key, limit, now)
	if lim.AllowN(now, cost) {
		return decision(true, limit, lim.TokensAt(now), 0)
	}
	tokens := lim.TokensAt(now)
	return decision(false, limit, tokens, wait(float64(cost)-tokens, limit))
}

// Charge spends n more tokens of key's bucket at now, even into debt: a call that
// turned out to cost more than it was let in for (a failed coupon lookup) pays the
// rest, and the key's next calls wait for it. At most one burst is charged.
func (l *Limiters) Charge(key string, limit Limit, n int, now time.Time) Decision {
	lim := l.limiter(key, limit, now)
	// ReserveN without a Cancel takes the tokens even when they are not there yet:
	// the bucket goes below zero and refills from there.
	lim.ReserveN(now, min(n, limit.Burst))
	return decision(true, limit, lim.TokensAt(now), 0)
}

func decision(allowed bool, limit Limit, tokens float64, retryAfter time.Duration) Decision {
	remaining := 0
	if tokens >= 1 {
		remaining = int(math.Floor(tokens))
	}
	var reset time.Duration
	if tokens < float64(limit.Burst) {
		reset = wait(float64(remaining+1)-tokens, limit)
	}
	return Decision{Allowed: allowed, Limit: limit, Remaining: remaining, Reset: reset, RetryAfter: retryAfter}
}

// wait is how long the bucket takes to gain tokens.
func wait(tokens float64, limit Limit) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(tokens / float64(limit.PerSecond) * float64(time.Second)))
}

func (l *Limiters) limiter(key string, limit Limit, now time.Time) *rate.Limiter {
	s := &l.shards[maphash.String(l.seed, key)%shards]
	s.mu.RLock()
	b, ok := s.buckets[key]
	s.mu.RUnlock()
	if ok {
		cur := b.cur.Load()
		if cur.limit == limit {
			return cur.lim
		}
		next := &shaped{lim: rate.NewLimiter(rate.Limit(limit.PerSecond), limit.Burst), limit: limit}
		if b.cur.CompareAndSwap(cur, next) {
			return next.lim
		}
		return b.cur.Load().lim // a racing call changed it first
	}
	s.mu.Lock()
	if b, ok = s.buckets[key]; !ok {
		b = &bucket{}
		b.cur.Store(&shaped{lim: rate.NewLimiter(rate.Limit(limit.PerSecond), limit.Burst), limit: limit})
		s.buckets[key] = b
	}
	s.mu.Unlock()
	if !ok && l.count.Add(1) > l.maxKeys {
		l.evict(key, now)
	}
	return b.cur.Load().lim
}

// evict makes room once more keys than maxKeys have buckets. Full buckets go
// first: a full bucket is the same as a new one, so forgetting it changes nothing.
// If that is not enough, buckets go in map order until a quarter is free: those
// keys start afresh, full, which only ever lets a key through sooner. The bucket
// of keep, the key whose call is under way, stays.
func (l *Limiters) evict(keep string, now time.Time) {
	if !l.sweep.TryLock() {
		return // another call is already making room
	}
	defer l.sweep.Unlock()
	target := l.maxKeys * 3 / 4
	for _, full := range []bool{true, false} {
		for i := range l.shards {
			s := &l.shards[i]
			s.mu.Lock()
			for k, b := range s.buckets {
				if l.count.Load() <= target {
					break
				}
				if k == keep {
					continue
				}
				if lim := b.cur.Load().lim; !full || lim.TokensAt(now) >= float64(lim.Burst()) {
					delete(s.buckets, k)
					l.count.Add(-1)
				}
			}
			s.mu.Unlock()
		}
	}
}

// Keys is how many keys have a bucket.
func (l *Limiters) Keys() int { return int(l.count.Load()) }

// PolicyHeader is the RateLimit-Policy field of the IETF httpapi ratelimit-headers
// draft for the limit: the policy "key" (one bucket per API key) allows q requests
// in a window of w = 1 second; loyalty-burst (a vendor parameter) is how many may
// come at once.
//
//	"key";q=100;w=1;loyalty-burst=200
func (d Decision) PolicyHeader() string {
	var buf [64]byte
	b := append(buf[:0], `"key";q=`...)
	b = strconv.AppendInt(b, int64(d.Limit.PerSecond), 10)
	b = append(b, ";w=1;loyalty-burst="...)
	b = strconv.AppendInt(b, int64(d.Limit.Burst), 10)
	return string(b)
}

// Header is the RateLimit field of the same draft: r requests remain, and in t
// seconds (rounded up) there is one more; t=0 when the bucket is full.
//
//	"key";r=42;t=1
func (d Decision) Header() string {
	var buf [64]byte
	b := append(buf[:0], `"key";r=`...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(Seconds(d.Reset)), 10)
	return string(b)
}

// Seconds rounds a wait up to whole seconds, as HTTP's delay-seconds (Retry-After,
// the draft's t) need: rounding down would send the client back too early.
func Seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
