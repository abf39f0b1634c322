package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/historyseed"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// seededLedger is a ledger on a fresh database with a seeded history.
func seededLedger(t *testing.T, o historyseed.Options) (*ledger.Service, *pgxpool.Pool, historyseed.Result) {
	t.Helper()
	pool := dbtest.NewPool(t)
	r, err := historyseed.Seed(context.Background(), pool, o)
	if err != nil {
		t.Fatal(err)
	}
	return ledger.NewService(pool, tiers.NewService(pool)), pool, r
}

// TestSeededHistoryVerifiesAndReadsLikeAScan seeds a history and checks the
// statement (every filter, paged to the end) and the balance as of instants
// against a plain read of all the member's entries.
func TestSeededHistoryVerifiesAndReadsLikeAScan(t *testing.T) {
	ctx := context.Background()
	svc, pool, r := seededLedger(t, historyseed.Options{Entries: 3000, BigEntries: 1000, SmallEntries: 30, PerMember: 50, Events: true, DropIndexes: true})
	if r.BigEntries != 1000 || r.SmallEntries < 20 {
		t.Fatalf("seeded %+v", r)
	}
	if v := mustVerify(t, svc); v.EntriesChecked != 3000 {
		t.Fatalf("verified %d entries, want 3000", v.EntriesChecked)
	}
	type row struct {
		id        int64
		kind      string
		at        time.Time
		available int64
	}
	rows, err := pool.Query(ctx, "SELECT entry_id, kind, create_time, available_after FROM entries WHERE member_id = $1 ORDER BY entry_id DESC", historyseed.BigMember)
	if err != nil {
		t.Fatal(err)
	}
	var all []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.kind, &x.at, &x.available); err != nil {
			t.Fatal(err)
		}
		all = append(all, x)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	mid := all[len(all)/2].at
	for _, q := range []ledger.ListActivity{
		{},
		{Kinds: []string{"GOODWILL"}},
		{Kinds: []string{"EARN", "GOODWILL"}},
		{StartTime: mid.Add(-10 * time.Minute), EndTime: mid},
		{Kinds: []string{"GOODWILL"}, StartTime: mid.Add(-3 * time.Hour), EndTime: mid.Add(time.Hour)},
	} {
		q.MemberID, q.PageSize = historyseed.BigMember, 7
		var want []int64
		for _, x := range all {
			if (len(q.Kinds) == 0 || slices.Contains(q.Kinds, x.kind)) &&
				(q.StartTime.IsZero() || !x.at.Before(q.StartTime)) && (q.EndTime.IsZero() || x.at.Before(q.EndTime)) {
				want = append(want, x.id)
			}
		}
		var got []int64
		for pages := 0; ; pages++ {
			a, err := svc.ListActivity(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range a.Entries {
				got = append(got, e.ID)
			}
			if a.NextPageToken == "" || pages > 1000 {
				break
			}
			q.PageToken = a.NextPageToken
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: %d entries %v..., want %d", q, len(got), got[:min(len(got), 5)], len(want))
		}
	}
	for range 50 {
		x := all[rand.IntN(len(all))]
		for _, at := range []time.Time{x.at, x.at.Add(time.Millisecond)} {
			b, err := svc.BalanceAsOf(ctx, historyseed.BigMember, at)
			if err != nil {
				t.Fatal(err)
			}
			if b.Available != x.available {
				t.Fatalf("balance as of %s: %d, want %d (entry %d)", at, b.Available, x.available, x.id)
			}
		}
	}
	if b, err := svc.BalanceAsOf(ctx, historyseed.BigMember, all[len(all)-1].at.Add(-time.Millisecond)); err != nil || b.Available != 0 {
		t.Fatalf("balance before the first entry: %+v, %v", b, err)
	}
}

// tamper runs statements on the ledger with the immutability triggers off, as
// someone with the database's keys could.
func tamper(t *testing.T, pool *pgxpool.Pool, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range append(append([]string{"SET session_replication_role = replica"}, stmts...), "SET session_replication_role = DEFAULT") {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func hasDiscrepancy(v ledger.Verification, kind string, entryID int64) bool {
	for _, d := range v.Discrepancies {
		if d.Kind == kind && (entryID == 0 || d.EntryID == entryID) {
			return true
		}
	}
	return false
}

func TestIncrementalVerifyReadsOnlyWhatCameAfterItsCheckpoint(t *testing.T) {
	ctx := context.Background()
	svc, pool, _ := seededLedger(t, historyseed.Options{Entries: 500, BigEntries: 100, SmallEntries: 10, PerMember: 50})
	full := mustVerify(t, svc)
	if !full.Full || full.Upto != 500 {
		t.Fatalf("full verify %+v", full)
	}
	mustEarn(t, svc, historyseed.SmallMember, "after-1", 7)
	v, err := svc.VerifyIncremental(ctx)
	if err != nil || !v.OK || v.Full || v.After != 500 || v.EntriesChecked != 1 {
		t.Fatalf("incremental verify after one earning: %+v, %v", v, err)
	}

	// A tampered entry after the checkpoint: balanced, but its running balance
	// does not follow from the member's previous entry (and the cache follows it).
	tamper(t, pool, `INSERT INTO entries (member_id, kind, accounts, amounts, available_after, pending_after, held_after, request_id, fingerprint, create_time)
		SELECT member_id, 'EARN', '{available,system:issued}', '{5,-5}', available + 50, 0, 0, 'forged', '\x00', now() FROM member_balances WHERE member_id = 'seed-small'`,
		`UPDATE member_balances SET available = available + 50 WHERE member_id = 'seed-small'`)
	v, err = svc.VerifyIncremental(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.Full || !hasDiscrepancy(v, ledger.DiscrepancyRunningBalance, 0) {
		t.Fatalf("incremental verify missed an entry forged after its checkpoint: %+v", v)
	}
	// A failed verify saves no checkpoint: the next one still finds it.
	if v2, err := svc.VerifyIncremental(ctx); err != nil || v2.OK || v2.After != v.After {
		t.Fatalf("second incremental verify: %+v, %v", v2, err)
	}
}

func TestFullVerifyFindsTamperingBeforeTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	svc, pool, _ := seededLedger(t, historyseed.Options{Entries: 500, BigEntries: 100, SmallEntries: 10, PerMember: 50})
	mustVerify(t, svc)
	// An old entry rewritten, behind the triggers' back: its amounts (and the
	// running balances after it) no longer chain.
	tamper(t, pool, `UPDATE entries SET amounts = '{11,-11}' WHERE entry_id = 100`)
	v, err := svc.VerifyIncremental(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.EntriesChecked != 0 {
		// What a checkpoint proved is not read again: only the full audit can see it.
		t.Fatalf("incremental verify with nothing new: %+v", v)
	}
	v, err = svc.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || !v.Full || !hasDiscrepancy(v, ledger.DiscrepancyRunningBalance, 0) || !hasDiscrepancy(v, ledger.DiscrepancyBalanceMismatch, 0) {
		t.Fatalf("full verify missed an entry rewritten before the checkpoint: %+v", v)
	}
}

// TestVerifyFindsAnEntryStampedBeforeItsPrevious moves an entry written after
// the checkpoint back in time, behind the member's older entries. The statement,
// the balance as of an instant and the incremental verify walk a member's entries
// in time order as if it were id order, so both verifies must name the entry.
func TestVerifyFindsAnEntryStampedBeforeItsPrevious(t *testing.T) {
	ctx := context.Background()
	svc, pool, _ := seededLedger(t, historyseed.Options{Entries: 500, BigEntries: 100, SmallEntries: 10, PerMember: 50})
	mustVerify(t, svc)
	moved := mustEarn(t, svc, historyseed.SmallMember, "moved-back", 7)
	mustEarn(t, svc, historyseed.SmallMember, "stays", 3)
	// The seeded history starts in 2020.
	tamper(t, pool, fmt.Sprintf(`UPDATE entries SET create_time = '2001-01-01T00:00:00Z' WHERE entry_id = %d`, moved.ID))

	// Incremental: the moved entry is new since the checkpoint, and the entry
	// after it in time is an older one.
	v, err := svc.VerifyIncremental(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.Full || !hasDiscrepancy(v, ledger.DiscrepancyEntryTimeOrder, moved.ID) {
		t.Fatalf("incremental verify missed an entry stamped before its previous one: %+v", v)
	}
	// Full: by id, the moved entry's time is before its previous entry's.
	v, err = svc.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || !v.Full || !hasDiscrepancy(v, ledger.DiscrepancyEntryTimeOrder, moved.ID) {
		t.Fatalf("full verify missed an entry stamped before its previous one: %+v", v)
	}
}

// TestIncrementalVerifyDuringWritesHasNoFalseFailures verifies, incrementally and
// in full, over and over while earnings, redemptions and holds are written, and
// then once more at rest: every verify must pass, and the last checkpoint must be
// at the last entry (no entry skipped by a checkpoint taken while it committed).
func TestIncrementalVerifyDuringWritesHasNoFalseFailures(t *testing.T) {
	ctx := context.Background()
	members := []string{"w1", "w2", "w3", "w4"}
	svc, _ := newLedger(t, members...)
	for _, m := range members {
		mustEarn(t, svc, m, "seed", 1000)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				m := members[(w+i)%len(members)]
				var err error
				if i%3 == 2 {
					_, err = svc.Redeem(ctx, actor, ledger.Redeem{MemberID: m, RequestID: fmt.Sprintf("r%d-%d", w, i), Points: 1})
				} else {
					_, err = svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: fmt.Sprintf("e%d-%d", w, i), Points: 2})
				}
				if err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	for i := range 12 {
		var v ledger.Verification
		var err error
		if i%4 == 3 {
			v, err = svc.Verify(ctx)
		} else {
			v, err = svc.VerifyIncremental(ctx)
		}
		if err != nil || !v.OK {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("verify %d during writes: %+v, %v", i, v, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if writes.Load() == 0 {
		t.Fatal("no writes ran during the verifies")
	}
	v, err := svc.VerifyIncremental(ctx)
	if err != nil || !v.OK {
		t.Fatalf("incremental verify at rest: %+v, %v", v, err)
	}
	full := mustVerify(t, svc)
	if full.Upto != v.Upto || full.EntriesChecked != int64(len(members))+writes.Load() {
		t.Fatalf("full verify %+v after incremental %+v and %d writes", full, v, writes.Load())
	}
}
