package events

import "time"

// RetryPolicy is when failed deliveries are attempted again, and when they are
// given up.
type RetryPolicy struct {
	// First is the wait after the first failed attempt; each further failure
	// doubles it, up to Max.
	First, Max time.Duration
	// GiveUpAfter is how long a delivery may keep failing, from its first attempt,
	// before it is given up and its endpoint disabled.
	GiveUpAfter time.Duration
}

// DefaultRetryPolicy: 5 s, 10 s, 20 s, ... up to an hour apart, for 3 days.
var DefaultRetryPolicy = RetryPolicy{First: 5 * time.Second, Max: time.Hour, GiveUpAfter: 72 * time.Hour}

// withDefaults fills what p leaves zero from DefaultRetryPolicy.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.First <= 0 {
		p.First = DefaultRetryPolicy.First
	}
	if p.Max <= 0 {
		p.Max = max(DefaultRetryPolicy.Max, p.First)
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = DefaultRetryPolicy.GiveUpAfter
	}
	return p
}

// RetryDelay is the rule for the wait before the next attempt of a delivery that
// has failed attempts times (1 or more): First doubled for each failure after the
// first, capped at Max, then jittered down by up to half (jitter in [0, 1)), so
// that deliveries that failed together (an endpoint that was down) do not all come
// back at the same instant.
func RetryDelay(p RetryPolicy, attempts int, jitter float64) time.Duration {
	d := p.First
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return d - time.Duration(float64(d/2)*jitter)
}

// GivesUp is the rule for a failed delivery: it is given up once it has been
// failing for GiveUpAfter since its first attempt.
func GivesUp(p RetryPolicy, firstAttempt, now time.Time) bool {
	return now.Sub(firstAttempt) >= p.GiveUpAfter
}
