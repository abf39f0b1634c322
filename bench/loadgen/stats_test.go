package main

import (
	"errors"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose: summarize sorts
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	s := summarize("x", lat, 0, 0, 10*time.Second)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", s.P50Ms, 50}, {"p90", s.P90Ms, 90}, {"p99", s.P99Ms, 99}, {"max", s.MaxMs, 100},
		{"mean", s.MeanMs, 50.5}, {"ops/s", s.OpsPerSec, 10},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99.9); got != 7 {
		t.Errorf("percentile of one value = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestErrorLogGroupsByMessage(t *testing.T) {
	l := newErrorLog()
	l.add(errors.New("REST POST /v1/members/bench-17:earn: HTTP 501: not implemented"))
	l.add(errors.New("REST POST /v1/members/bench-4:earn: HTTP 501: not implemented"))
	l.add(errors.New("gRPC Earn: AlreadyExists: request lg1-rest-earn-w3-17 differs"))
	for i := 0; i < 2*maxDistinctErrors; i++ {
		l.add(errors.New(string(rune('a' + i))))
	}
	got := l.samples()
	if len(got) != maxDistinctErrors+1 {
		t.Fatalf("%d samples, want %d: %v", len(got), maxDistinctErrors+1, got)
	}
	if got[0].Count != 2 || got[0].Message != "REST POST /v1/members/bench-N:earn: HTTP 501: not implemented" {
		t.Errorf("first sample = %+v", got[0])
	}
	if got[1].Message != "gRPC Earn: AlreadyExists: request lg1-rest-earn-wN-N differs" {
		t.Errorf("second sample = %+v", got[1])
	}
	if last := got[len(got)-1]; last.Message != "(other errors)" || last.Count != 2*maxDistinctErrors-(maxDistinctErrors-2) {
		t.Errorf("last sample = %+v", last)
	}
}
