// Package historyseed builds a long ledger history straight into the ledger's
// tables, set-based (INSERT ... SELECT over generate_series), for the history
// benchmarks (bench/history) and the tests that need a member with many entries.
//
// What it writes is what the write path would have written for the same
// earnings, so that ledger Verify passes on it: every entry balances and carries
// the member's running balances, each credit opens its lot (unspent), the cached
// member and system balances are the sums of the postings, and each entry has its
// event, numbered per member. Entries are EARN (10 points, from system:issued)
// but every 97th, a GOODWILL (5 points, reason SEED): a rare kind for the
// statement's kind filter. Entries are one second apart, in id order.
package historyseed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options is the history to build.
type Options struct {
	Entries      int64     // entries in all
	BigEntries   int64     // entries of the member with the long history
	SmallEntries int64     // entries of the member with a short history (about)
	PerMember    int64     // entries of each of the other members (about)
	Start        time.Time // the first entry's time
	// Events writes each entry's event (the outbox) as the write path does.
	Events bool
	// DropIndexes drops the secondary indexes of the tables written to and
	// builds them again afterwards: much faster for millions of rows.
	DropIndexes bool
}

// The members the history is about.
const (
	BigMember   = "seed-big"
	SmallMember = "seed-small"
)

// Result is what was built.
type Result struct {
	Entries, BigEntries, SmallEntries, Members int64
	Start, End                                 time.Time // the first and last entry's time
}

// indexedTables are the tables whose secondary indexes DropIndexes drops.
var indexedTables = []string{"entries", "lots", "events"}

// Seed builds the history on an empty ledger.
func Seed(ctx context.Context, pool *pgxpool.Pool, o Options) (Result, error) {
	if o.Entries <= 0 || o.BigEntries < 0 || o.SmallEntries < 0 || o.BigEntries+o.SmallEntries > o.Entries {
		return Result{}, errors.New("historyseed: need entries > 0 and big + small entries <= entries")
	}
	if o.PerMember <= 0 {
		o.PerMember = 100
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM entries LIMIT 1) x").Scan(&n); err != nil {
		return Result{}, fmt.Errorf("historyseed: %w", err)
	}
	if n > 0 {
		return Result{}, errors.New("historyseed: the ledger has entries already (seed an empty database)")
	}
	others := max((o.Entries-o.BigEntries-o.SmallEntries)/o.PerMember, 1)
	smallStride := int64(0)
	if o.SmallEntries > 0 {
		smallStride = max(o.Entries/o.SmallEntries, 1)
	}
	var indexes []string
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if o.DropIndexes {
			var err error
			if indexes, err = dropIndexes(ctx, tx); err != nil {
				return err
			}
		}
		steps := []struct {
			name string
			sql  string
			args []any
		}{
			// Entry i's member: the big member's entries spread evenly over the
			// history (i*M/N steps), the small member's every N/S-th, the others
			// round robin.
			{"plan", `CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
				SELECT i AS entry_id,
				       CASE WHEN (i * $2::bigint) / $1::bigint > ((i - 1) * $2::bigint) / $1::bigint THEN '` + BigMember + `'
				            WHEN $3::bigint > 0 AND i % $3::bigint = 1 THEN '` + SmallMember + `'
				            ELSE 'seed-' || lpad((i % $4::bigint)::text, 7, '0') END AS member_id,
				       CASE WHEN i % 97 = 0 THEN 'GOODWILL' ELSE 'EARN' END AS kind,
				       CASE WHEN i % 97 = 0 THEN 5 ELSE 10 END::bigint AS points,
				       $5::timestamptz + i * interval '1 second' AS create_time
				FROM generate_series(1, $1::bigint) AS i`,
				[]any{o.Entries, o.BigEntries, smallStride, others, o.Start}},
			{"members", `INSERT INTO members (member_id, join_time)
				SELECT member_id, $1::timestamptz FROM seed_plan GROUP BY member_id
				ON CONFLICT (member_id) DO NOTHING`, []any{o.Start}},
			{"entries", `INSERT INTO entries (entry_id, member_id, kind, accounts, amounts, available_after, pending_after, held_after,
				                     request_id, fingerprint, reason_code, create_time)
				OVERRIDING SYSTEM VALUE
				SELECT entry_id, member_id, kind,
				       ARRAY['available', CASE kind WHEN 'EARN' THEN 'system:issued' ELSE 'system:goodwill:SEED' END],
				       ARRAY[points, -points],
				       sum(points) OVER (PARTITION BY member_id ORDER BY entry_id), 0, 0,
				       'seed-' || entry_id, '\x00'::bytea, CASE kind WHEN 'GOODWILL' THEN 'SEED' END, create_time
				FROM seed_plan`, nil},
			{"lots", `INSERT INTO lots (lot_id, member_id, entry_id, origin_entry_id, points, remaining, expire_time, create_time)
				OVERRIDING SYSTEM VALUE
				SELECT entry_id, member_id, entry_id, entry_id, points, points, create_time + interval '3650 days', create_time
				FROM seed_plan`, nil},
			{"member balances", `INSERT INTO member_balances AS b (member_id, available, last_entry_time)
				SELECT member_id, sum(points), max(create_time) FROM seed_plan GROUP BY member_id
				ON CONFLICT (member_id) DO UPDATE SET available = b.available + excluded.available, last_entry_time = excluded.last_entry_time`, nil},
			{"system balances", `INSERT INTO system_balances AS s (account, balance)
				SELECT CASE kind WHEN 'EARN' THEN 'system:issued' ELSE 'system:goodwill:SEED' END, -sum(points)
				FROM seed_plan GROUP BY 1
				ON CONFLICT (account) DO UPDATE SET balance = s.balance + excluded.balance`, nil},
			{"sequences", `SELECT setval(pg_get_serial_sequence('entries', 'entry_id'), $1::bigint),
				       setval(pg_get_serial_sequence('lots', 'lot_id'), $1::bigint)`, []any{o.Entries}},
		}
		if o.Events {
			steps = append(steps, struct {
				name string
				sql  string
				args []any
			}{"events", `INSERT INTO events (feed_xid, type, occur_time, member_id, member_seq, data)
				SELECT pg_current_xact_id(), CASE kind WHEN 'EARN' THEN 'points.earned' ELSE 'points.goodwill' END, create_time, member_id,
				       row_number() OVER (PARTITION BY member_id ORDER BY entry_id),
				       jsonb_build_object('entryId', entry_id::text, 'kind', kind, 'points', amounts[1], 'available', available_after,
				                          'pending', 0, 'held', 0, 'requestId', request_id)
				FROM entries ORDER BY entry_id`, nil}, struct {
				name string
				sql  string
				args []any
			}{"event counters", `INSERT INTO event_member_seqs (member_id, last_seq, last_feed_xid)
				SELECT member_id, count(*), pg_current_xact_id() FROM entries GROUP BY member_id`, nil})
		}
		for _, s := range steps {
			if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
				return fmt.Errorf("historyseed: %s: %w", s.name, err)
			}
		}
		for _, ddl := range indexes {
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("historyseed: rebuild index: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	// Fresh statistics and visibility map: the plans and index-only scans of a
	// ledger that has lived, not of one just loaded.
	for _, t := range []string{"entries", "lots", "events", "members", "member_balances"} {
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return Result{}, fmt.Errorf("historyseed: vacuum %s: %w", t, err)
		}
	}
	r := Result{Entries: o.Entries, Start: o.Start.Add(time.Second), End: o.Start.Add(time.Duration(o.Entries) * time.Second)}
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE member_id = $1), count(*) FILTER (WHERE member_id = $2), count(DISTINCT member_id)
		FROM entries`, BigMember, SmallMember).Scan(&r.BigEntries, &r.SmallEntries, &r.Members); err != nil {
		return Result{}, fmt.Errorf("historyseed: count: %w", err)
	}
	return r, nil
}

// dropIndexes drops the secondary indexes of indexedTables (not those behind a
// constraint) and returns the statements that build them again.
func dropIndexes(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY (SELECT unnest($1::text[])::regclass)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, indexedTables)
	if err != nil {
		return nil, fmt.Errorf("historyseed: list indexes: %w", err)
	}
	type index struct{ name, def string }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var x index
		return x, r.Scan(&x.name, &x.def)
	})
	if err != nil {
		return nil, fmt.Errorf("historyseed: list indexes: %w", err)
	}
	defs := make([]string, len(list))
	for i, x := range list {
		if _, err := tx.Exec(ctx, "DROP INDEX "+x.name); err != nil {
			return nil, fmt.Errorf("historyseed: drop index %s: %w", x.name, err)
		}
		defs[i] = x.def
	}
	return defs, nil
}
