package ledgerdb

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/historyseed"
)

// TestBatchReadsStayIndexProbesAtAnyMemberCount runs the write path's reads that
// once had an OR in their WHERE (the batch's members or the owners of its holds;
// the entries given back or what its holds consumed) with EXPLAIN ANALYZE on 20,000
// members, and counts the buffers each touches for a batch of three. An OR of an
// array and a subquery is no index condition: its plan walked every member's
// balance (or every lot move), so the count grew with the members, not the batch.
func TestBatchReadsStayIndexProbesAtAnyMemberCount(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	if _, err := historyseed.Seed(ctx, pool, historyseed.Options{Entries: 20000, PerMember: 1}); err != nil {
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
	var members []string
	var entries []int64
	rows, err := pool.Query(ctx, "SELECT member_id, entry_id FROM entries ORDER BY entry_id LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		var e int64
		if err := rows.Scan(&m, &e); err != nil {
			t.Fatal(err)
		}
		members, entries = append(members, m), append(entries, e)
	}
	if rows.Err() != nil || len(members) != 3 {
		t.Fatalf("seeded members %v: %v", members, rows.Err())
	}

	for _, c := range []struct {
		name  string
		query string
		args  []any
		rows  int
	}{
		{"LockBatchMembers", lockBatchMembers, []any{members, []int64{}}, 3},
		{"RestorableLotsOf", restorableLotsOf, []any{entries, []int64{}}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			var plan []struct {
				Plan map[string]any `json:"Plan"`
			}
			var raw []byte
			if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+c.query, c.args...).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &plan); err != nil || len(plan) != 1 {
				t.Fatalf("plan %s: %v", raw, err)
			}
			top := plan[0].Plan
			buffers := top["Shared Hit Blocks"].(float64) + top["Shared Read Blocks"].(float64)
			if got := top["Actual Rows"].(float64); int(got) != c.rows {
				t.Fatalf("%s answered %v rows, want %d", c.name, got, c.rows)
			}
			// Three index probes and their heap pages are a few dozen buffers; a walk
			// of 20,000 members' rows is hundreds.
			if buffers > 100 {
				t.Fatalf("%s touched %v buffers for a batch of three: it walks the table\n%s", c.name, buffers, raw)
			}
		})
	}
}
