package ledger

import (
	"context"
	"fmt"
	"testing"

	"github.com/loyalty-engine/loyalty/tiers"
)

// Benchmarks of the apply step alone (no database): a batch of 64 plans on a state
// as the read step leaves it. The state is rebuilt outside the timer for every
// batch, a chunk at a time, as apply moves it on; the figure is the rules' own cost per entry.
//
//	go test -run '^$' -bench BenchmarkApply -benchtime 2s ./ledger/

const benchBatch = 64

// benchMemberIDs are the members of a benchmark batch, one command each.
func benchMemberIDs() []string {
	ids := make([]string, benchBatch)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d", i)
	}
	return ids
}

// BenchmarkApplyEarn: order earnings at a member's tier (the tier part, the order
// record, the qualifying move and the upgrade check), each opening a lot.
func BenchmarkApplyEarn(b *testing.B) {
	policy := tiers.DefaultPolicy()
	ids := benchMemberIDs()
	plans := make([]plan, benchBatch)
	for i, id := range ids {
		plans[i] = orderEarn(policy, id, "e-"+id, "o-"+id, 1000, applyT0)
	}
	windowStart := policy.WindowStart(applyT0)
	state := func() *batchState {
		st := newApplyState()
		for _, id := range ids {
			m := stateMember(id, 500)
			m.tier = &tierState{state: tiers.State{TierID: "gold", PeriodEnd: applyT0.AddDate(1, 0, 0)}}
			st.members[id] = m
			st.metrics[metricKey{id, windowStart}] = metricSum{points: 6000}
		}
		return st
	}
	benchApply(b, state, plans)
}

// BenchmarkApplyRedeem: redemptions over members with four lots each, each
// consuming from three of them.
func BenchmarkApplyRedeem(b *testing.B) {
	ids := benchMemberIDs()
	plans := make([]plan, benchBatch)
	for i, id := range ids {
		plans[i] = redeemPlan(id, "r-"+id, 250)
	}
	state := func() *batchState {
		st := newApplyState()
		for i, id := range ids {
			base := int64(i * 4)
			st.members[id] = stateMember(id, 400,
				openLot(base+1, base+1, 100, 40), openLot(base+2, base+2, 100, 10),
				openLot(base+3, base+3, 100, 30), openLot(base+4, base+4, 100, 20))
		}
		return st
	}
	benchApply(b, state, plans)
}

func benchApply(b *testing.B, state func() *batchState, plans []plan) {
	ctx := context.Background()
	// Check once that the batch does what it is meant to: every command posts.
	for i, o := range state().apply(ctx, plans) {
		if o.err != nil || o.skipped {
			b.Fatalf("plan %d: %+v", i, o)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	// States are built outside the timer a chunk at a time: stopping the timer
	// for every batch would weigh on what it measures.
	var ready []*batchState
	for range b.N {
		if len(ready) == 0 {
			b.StopTimer()
			ready = make([]*batchState, min(b.N, 256))
			for i := range ready {
				ready[i] = state()
			}
			b.StartTimer()
		}
		st := ready[0]
		ready = ready[1:]
		st.apply(ctx, plans)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "entries/s")
}
