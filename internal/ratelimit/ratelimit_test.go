package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestABucketLetsABurstThroughThenRefillsAtItsRate(t *testing.T) {
	l := New(0)
	limit := Limit{PerSecond: 2, Burst: 3}
	for i := 0; i < 3; i++ {
		d := l.Take("k", limit, 1, t0)
		if !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("call %d: %+v, want allowed with %d remaining", i+1, d, 2-i)
		}
	}
	d := l.Take("k", limit, 1, t0)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != 500*time.Millisecond || d.Reset != 500*time.Millisecond {
		t.Fatalf("fourth call at once: %+v, want refused, retry after 0.5 s", d)
	}
	// A refused call takes nothing: after the wait one call fits, not two.
	later := t0.Add(500 * time.Millisecond)
	if d := l.Take("k", limit, 1, later); !d.Allowed {
		t.Fatalf("after the wait: %+v", d)
	}
	if d := l.Take("k", limit, 1, later); d.Allowed {
		t.Fatalf("a second call after one token's wait: %+v", d)
	}
	// Another key has its own bucket.
	if d := l.Take("other", limit, 1, t0); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("another key: %+v", d)
	}
}

func TestAChargeGoesIntoDebtAndTheKeyWaitsItOff(t *testing.T) {
	l := New(0)
	limit := Limit{PerSecond: 10, Burst: 20}
	l.Take("k", limit, 1, t0)                                // 19 left
	d := l.Charge("k", limit, 30, t0)                        // capped at one burst: 19 - 20 = -1
	if d.Remaining != 0 || d.Reset != 200*time.Millisecond { // from -1 to 1 token
		t.Fatalf("after the charge: %+v", d)
	}
	if d := l.Take("k", limit, 1, t0.Add(150*time.Millisecond)); d.Allowed || d.RetryAfter != 50*time.Millisecond {
		t.Fatalf("still in debt: %+v, want refused for 50 ms more", d)
	}
	if d := l.Take("k", limit, 1, t0.Add(200*time.Millisecond)); !d.Allowed {
		t.Fatalf("debt paid: %+v", d)
	}
}

func TestAChangedLimitAppliesFromTheNextCall(t *testing.T) {
	l := New(0)
	l.Take("k", Limit{PerSecond: 100, Burst: 100}, 1, t0) // 99 left
	tight := Limit{PerSecond: 1, Burst: 2}
	d := l.Take("k", tight, 1, t0) // a new, full bucket of 2, then one spent
	if !d.Allowed || d.Remaining != 1 || d.Limit != tight {
		t.Fatalf("first call under the new limit: %+v", d)
	}
	l.Take("k", tight, 1, t0)
	if d := l.Take("k", tight, 1, t0); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("over the new limit: %+v", d)
	}
}

func TestMemoryIsBoundedByMaxKeys(t *testing.T) {
	l := New(8)
	limit := Limit{PerSecond: 1, Burst: 1}
	for i := 0; i < 100; i++ {
		l.Take("key-"+strconv.Itoa(i), limit, 1, t0)
	}
	if n := l.Keys(); n > 8 {
		t.Fatalf("%d keys kept, want at most 8", n)
	}
	kept := 0
	for i := range l.shards {
		kept += len(l.shards[i].buckets)
	}
	if kept != l.Keys() {
		t.Fatalf("the count says %d, the maps hold %d", l.Keys(), kept)
	}
}

func TestEvictionDropsFullBucketsFirst(t *testing.T) {
	l := New(4)
	limit := Limit{PerSecond: 1, Burst: 5}
	for i := 0; i < 4; i++ { // four buckets in use, not full
		l.Take("busy-"+strconv.Itoa(i), limit, 1, t0)
	}
	// Long after, every bucket is full again; a fifth key pushes the count over.
	later := t0.Add(time.Hour)
	l.Take("new", limit, 1, later)
	if l.Keys() > 3 {
		t.Fatalf("%d keys kept after eviction, want at most 3", l.Keys())
	}
	// The new key's bucket (not full) survived, with the call it took.
	if d := l.Take("new", limit, 1, later); d.Remaining != 3 {
		t.Fatalf("the new key lost its bucket: %+v", d)
	}
}

func TestTakeOnAKnownKeyAllocatesNothing(t *testing.T) {
	l := New(0)
	limit := Limit{PerSecond: 1_000_000, Burst: 1_000_000}
	l.Take("k", limit, 1, t0)
	now := t0
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Microsecond)
		l.Take("k", limit, 1, now)
	})
	if allocs != 0 {
		t.Fatalf("Take allocates %.1f times a call", allocs)
	}
}

func TestHeadersFollowTheRateLimitHeadersDraft(t *testing.T) {
	for _, tc := range []struct {
		d              Decision
		policy, header string
	}{
		{Decision{Limit: Limit{PerSecond: 100, Burst: 200}, Remaining: 42, Reset: 10 * time.Millisecond},
			`"key";q=100;w=1;loyalty-burst=200`, `"key";r=42;t=1`},
		{Decision{Limit: Limit{PerSecond: 5, Burst: 5}, Remaining: 5},
			`"key";q=5;w=1;loyalty-burst=5`, `"key";r=5;t=0`},
		{Decision{Limit: Limit{PerSecond: 1, Burst: 1}, Remaining: 0, Reset: 2500 * time.Millisecond},
			`"key";q=1;w=1;loyalty-burst=1`, `"key";r=0;t=3`},
	} {
		if got := tc.d.PolicyHeader(); got != tc.policy {
			t.Errorf("policy %+v = %s, want %s", tc.d, got, tc.policy)
		}
		if got := tc.d.Header(); got != tc.header {
			t.Errorf("header %+v = %s, want %s", tc.d, got, tc.header)
		}
	}
}

func TestSecondsRoundUp(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + time.Nanosecond, 2}, {90 * time.Second, 90},
	} {
		if got := Seconds(tc.d); got != tc.want {
			t.Errorf("Seconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestConcurrentCallsNeverGetMoreThanTheBurst(t *testing.T) {
	l := New(0)
	limit := Limit{PerSecond: 1, Burst: 500}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if l.Take("k", limit, 1, t0).Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 500 {
		t.Fatalf("%d calls allowed at one instant, want the burst, 500", n)
	}
}
