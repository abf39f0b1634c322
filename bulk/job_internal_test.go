package bulk

import (
	"slices"
	"testing"
)

func TestUncoveredChunks(t *testing.T) {
	for name, tc := range map[string]struct {
		total, size int64
		covered     []seqRange
		want        []seqRange
	}{
		"nothing listed":       {0, 50, nil, nil},
		"nothing done":         {120, 50, nil, []seqRange{{0, 50}, {50, 100}, {100, 120}}},
		"all done":             {120, 50, []seqRange{{0, 50}, {50, 100}, {100, 120}}, nil},
		"a prefix done":        {120, 50, []seqRange{{0, 50}}, []seqRange{{50, 100}, {100, 120}}},
		"the middle done":      {200, 50, []seqRange{{50, 100}, {150, 200}}, []seqRange{{0, 50}, {100, 150}}},
		"the last one done":    {120, 50, []seqRange{{100, 120}}, []seqRange{{0, 50}, {50, 100}}},
		"exactly one chunk":    {50, 50, nil, []seqRange{{0, 50}}},
		"smaller than a chunk": {7, 50, nil, []seqRange{{0, 7}}},
		// The progress of a bulk credit from before chunk rows: one row for the
		// prefix its chunks did, ending off the grid; the rest is cut on the grid.
		"a prefix off the grid":        {200, 50, []seqRange{{0, 73}}, []seqRange{{73, 100}, {100, 150}, {150, 200}}},
		"a prefix off the grid, later": {200, 50, []seqRange{{0, 73}, {100, 150}}, []seqRange{{73, 100}, {150, 200}}},
		"chunks of one":                {3, 1, []seqRange{{1, 2}}, []seqRange{{0, 1}, {2, 3}}},
	} {
		if got := uncoveredChunks(tc.total, tc.size, tc.covered); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// Whatever chunks of a plan commit, planning again cuts the others exactly as
// the first plan did: two runs planning the same members claim the same row.
func TestUncoveredChunksPlanTheSameChunksAgain(t *testing.T) {
	const total, size = 1000, 64
	first := uncoveredChunks(total, size, []seqRange{{0, 73}})
	for mask := range 1 << 8 {
		var covered []seqRange
		covered = append(covered, seqRange{0, 73})
		var want []seqRange
		for i, c := range first {
			if i < 8 && mask&(1<<i) != 0 {
				covered = append(covered, c)
			} else {
				want = append(want, c)
			}
		}
		if got := uncoveredChunks(total, size, covered); !slices.Equal(got, want) {
			t.Fatalf("committed %v: planned %v, want %v", covered, got, want)
		}
	}
}
