package server_test

import (
	"fmt"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// The primary pool's statistics are on /metrics, read at the scrape: its size, and
// acquisitions counted as calls use it.
func TestPoolStatisticsAreOnMetrics(t *testing.T) {
	env := apitest.Start(t)
	key := apitest.AdminKey
	series := func(name string) float64 {
		t.Helper()
		v, found := env.Metric(name)
		if !found {
			t.Fatalf("/metrics lacks %s", name)
		}
		return v
	}
	if got, want := series(`pgxpool_max_conns{pool="primary"}`), float64(env.Pool.Stat().MaxConns()); got != want {
		t.Errorf("pgxpool_max_conns = %v, want the pool's %v", got, want)
	}
	before := series(`pgxpool_acquire_count{pool="primary"}`)
	for i := range 3 {
		if r := env.REST("POST", "/v1/members", key, map[string]any{"memberId": fmt.Sprintf("pool-%d", i)}); r.Status != 200 {
			t.Fatalf("enroll: %d %s", r.Status, r.Raw)
		}
	}
	if after := series(`pgxpool_acquire_count{pool="primary"}`); after < before+3 {
		t.Errorf("pgxpool_acquire_count went from %v to %v over three enrolments, want at least 3 more", before, after)
	}
}
