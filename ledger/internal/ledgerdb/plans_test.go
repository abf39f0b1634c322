package ledgerdb

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/historyseed"
)

// TestBatchStatementsReadOnlyTheBatchsRows runs the write path's statements that
// were once planned as walks of a whole table with EXPLAIN ANALYZE on 20,000
// members, and counts the rows every scan in the plan examined (returned or
// filtered out, times its loops): it must stay within the batch's own rows. The
// walks it guards against:
//   - an OR of the batch's array and a subquery (the batch's members or the owners
//     of its holds; the entries given back or what its holds consumed) is no index
//     condition: the plan filtered every member's balance, or every lot move;
//   - an UPDATE of lots joined with the unnest of a large batch alone was planned
//     as a merge join from lots_pkey's first row, under the force_custom_plan
//     that large batches run with. (WriteBalances had the same join, planned as a
//     hash join over every balance; with the ids as an index condition the planner
//     now weighs 5,000 probes against one pass with a hashed filter, and either
//     is a fair plan, so it is not held to probes here.)
func TestBatchStatementsReadOnlyTheBatchsRows(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	if _, err := historyseed.Seed(ctx, pool, historyseed.Options{Entries: 20_000, PerMember: 1}); err != nil {
		t.Fatal(err)
	}
	// A lot move for every seeded lot: what redemptions would have consumed.
	if _, err := pool.Exec(ctx, `INSERT INTO lot_moves (member_id, lot_id, entry_id, source_entry_id, points)
		SELECT member_id, lot_id, entry_id, entry_id, -1 FROM lots`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	// A batch from the middle of the tables: a walk from either end shows.
	const large = 300 // 1.5 % of the table, as 5,000 of 300,000; at 10 % a sequential scan is the better plan
	var members []string
	var entries, lots []int64
	rows, err := pool.Query(ctx, `SELECT e.member_id, e.entry_id, l.lot_id FROM entries e JOIN lots l ON l.entry_id = e.entry_id
		ORDER BY e.member_id OFFSET 9000 LIMIT $1`, large)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		var e, l int64
		if err := rows.Scan(&m, &e, &l); err != nil {
			t.Fatal(err)
		}
		members, entries, lots = append(members, m), append(entries, e), append(lots, l)
	}
	if rows.Err() != nil || len(members) != large {
		t.Fatalf("seeded batch of %d: %v", len(members), rows.Err())
	}
	zeros := make([]int64, large)

	for _, c := range []struct {
		name  string
		query string
		args  []any
		batch int
	}{
		{"LockBatchMembers", lockBatchMembers, []any{members[:3], []int64{}}, 3},
		{"LockBatchMembers, large", lockBatchMembers, []any{members, []int64{}}, large},
		{"RestorableLotsOf", restorableLotsOf, []any{entries[:3], []int64{}}, 3},
		{"WriteLotsRemaining, large", writeLotsRemaining, []any{lots, zeros}, large},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			// What the write path runs batches of 256 commands or more with.
			if c.batch >= 256 {
				if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
					t.Fatal(err)
				}
			}
			var raw []byte
			if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+c.query, c.args...).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			var plan []struct {
				Plan planNode `json:"Plan"`
			}
			if err := json.Unmarshal(raw, &plan); err != nil || len(plan) != 1 {
				t.Fatalf("plan %s: %v", raw, err)
			}
			// A scan may examine each of the batch's rows a couple of times (a
			// member's balance and its member row); a walk examines the table.
			for _, s := range plan[0].Plan.scans() {
				if s.examined() > float64(2*c.batch+10) {
					t.Fatalf("%s: %s on %s examined %v rows for a batch of %d: it walks the table\n%s",
						c.name, s.NodeType, s.RelationName, s.examined(), c.batch, raw)
				}
			}
		})
	}
}

// planNode is the part of EXPLAIN's JSON the test reads.
type planNode struct {
	NodeType       string     `json:"Node Type"`
	RelationName   string     `json:"Relation Name"`
	ActualRows     float64    `json:"Actual Rows"`
	ActualLoops    float64    `json:"Actual Loops"`
	RemovedByFilt  float64    `json:"Rows Removed by Filter"`
	RemovedByCheck float64    `json:"Rows Removed by Index Recheck"`
	Plans          []planNode `json:"Plans"`
}

// scans are the nodes that read a table (or its index), the node and below.
func (n planNode) scans() []planNode {
	var out []planNode
	if n.RelationName != "" && n.NodeType != "ModifyTable" {
		out = append(out, n)
	}
	for _, c := range n.Plans {
		out = append(out, c.scans()...)
	}
	return out
}

func (n planNode) examined() float64 {
	return (n.ActualRows + n.RemovedByFilt + n.RemovedByCheck) * max(n.ActualLoops, 1)
}
