package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func systemBalance(t *testing.T, svc *ledger.Service, account string) int64 {
	t.Helper()
	l, err := svc.Liability(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !l.Consistent {
		t.Fatalf("liability report not consistent: %+v", l)
	}
	for _, a := range l.SystemAccounts {
		if a.Account == account {
			return a.Balance
		}
	}
	return 0
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestOpenImportsMembersOnceAndTheBooksBalance(t *testing.T) {
	clock := fakeclock.At(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	svc, pool := newLedgerOnPool(t, clock, "carol")
	ctx := context.Background()
	joined := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	expire := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	batch := []ledger.Opening{
		{MemberID: "alice", DisplayName: "Alice", JoinTime: joined, Points: 1000, Expire: expire, TierID: "gold"},
		{MemberID: "bob", JoinTime: joined, Metric: 1500},                    // opens at zero; the metric earns silver
		{MemberID: "carol", Points: 200},                                     // enrolled before: opened, not enrolled again
		{MemberID: "dave", Points: 5, TierID: "diamond"},                     // no such tier
		{MemberID: "alice", DisplayName: "Alice", Points: 1, TierID: "gold"}, // alice again, other values
	}
	res, err := svc.Open(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []ledger.OpeningStatus{ledger.OpeningImported, ledger.OpeningImported, ledger.OpeningImported, ledger.OpeningFailed, ledger.OpeningFailed} {
		if res[i].Status != want {
			t.Fatalf("row %d: %+v, want status %d", i, res[i], want)
		}
	}
	if !res[0].Created || !res[1].Created || res[2].Created || res[0].EntryID == 0 || res[1].EntryID != 0 {
		t.Fatalf("results %+v", res)
	}
	if p, ok := problem.As(res[3].Err); !ok || len(p.Fields) != 1 || p.Fields[0].Field != "tierId" {
		t.Fatalf("unknown tier: %v", res[3].Err)
	}
	if !errors.Is(res[4].Err, ledger.ErrImportConflict) {
		t.Fatalf("second row of alice: %v", res[4].Err)
	}
	mustVerify(t, svc)
	if got := systemBalance(t, svc, ledger.AccountOpening); got != -1200 {
		t.Fatalf("system:opening %d, want -1200", got)
	}
	if b := balanceOf(t, svc, "alice"); b.Available != 1000 || len(b.Expiring) != 1 || !b.Expiring[0].ExpireTime.Equal(expire) {
		t.Fatalf("alice %+v", b)
	}
	for id, tier := range map[string]string{"alice": "gold", "bob": "silver", "carol": "member"} {
		m, err := svc.Member(ctx, id)
		if err != nil || m.TierID != tier {
			t.Fatalf("%s: %+v %v, want tier %s", id, m, err, tier)
		}
	}
	if m, _ := svc.Member(ctx, "alice"); !m.JoinTime.Equal(joined) || m.DisplayName != "Alice" {
		t.Fatalf("alice %+v", m)
	}
	if n := count(t, pool, `SELECT count(*) FROM members WHERE member_id = 'dave'`); n != 0 {
		t.Fatal("a refused row enrolled its member")
	}
	// Events: one member.imported for alice (its payload: TestOpenTellsEachImportInOneEvent).
	rows, err := pool.Query(ctx, `SELECT type FROM events WHERE member_id = 'alice' ORDER BY member_seq`)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		types = append(types, s)
	}
	if fmt.Sprint(types) != "[member.imported]" {
		t.Fatalf("alice's events %v", types)
	}

	// The same rows again change nothing.
	before := count(t, pool, `SELECT count(*) FROM entries`) + 1000*count(t, pool, `SELECT count(*) FROM events`) +
		1000000*count(t, pool, `SELECT count(*) FROM tier_history`)
	again, err := svc.Open(ctx, batch[:3])
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Status != ledger.OpeningUnchanged || r.Err != nil {
			t.Fatalf("again, row %d: %+v", i, r)
		}
	}
	after := count(t, pool, `SELECT count(*) FROM entries`) + 1000*count(t, pool, `SELECT count(*) FROM events`) +
		1000000*count(t, pool, `SELECT count(*) FROM tier_history`)
	if before != after {
		t.Fatalf("a repeated import wrote rows: %d -> %d", before, after)
	}
	mustVerify(t, svc)
}

// Concurrent imports of the same members: each member is enrolled and opened once.
func TestConcurrentIdenticalImportsOpenEachMemberOnce(t *testing.T) {
	clock := fakeclock.At(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	svc, pool := newLedgerOnPool(t, clock)
	var batch []ledger.Opening
	for i := range 300 {
		batch = append(batch, ledger.Opening{MemberID: fmt.Sprintf("m%03d", i), Points: int64(i + 1), Metric: int64(i * 10)})
	}
	var wg sync.WaitGroup
	imported := make([]int, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each racer sends the members in chunks of its own order.
			for c := range 3 {
				chunk := batch[((c+w)%3)*100 : ((c+w)%3+1)*100]
				res, err := svc.Open(context.Background(), chunk)
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range res {
					if r.Err != nil {
						t.Error(r.Err)
					}
					if r.Status == ledger.OpeningImported {
						imported[w]++
					}
				}
			}
		}()
	}
	wg.Wait()
	if total := imported[0] + imported[1] + imported[2] + imported[3]; total != 300 {
		t.Fatalf("%d members imported, want 300 (%v)", total, imported)
	}
	if n := count(t, pool, `SELECT count(*) FROM entries WHERE kind = 'OPENING'`); n != 300 {
		t.Fatalf("%d OPENING entries, want 300", n)
	}
	if n := count(t, pool, `SELECT count(DISTINCT member_id) FROM events WHERE type = 'member.imported'`); n != 300 {
		t.Fatalf("%d members with an import event, want 300", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM events`); n != 300 {
		t.Fatalf("%d events, want one member.imported a member", n)
	}
	mustVerify(t, svc)
	if got := systemBalance(t, svc, ledger.AccountOpening); got != -300*301/2 {
		t.Fatalf("system:opening %d", got)
	}
}

// An import writes one member.imported event a member, which tells what the
// enrolment, the opening and the start tier would have: for a member it created,
// one that existed, one opened at zero.
func TestOpenTellsEachImportInOneEvent(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := fakeclock.At(now)
	svc, pool := newLedgerOnPool(t, clock, "carol")
	ctx := context.Background()
	carolJoined := count(t, pool, `SELECT extract(epoch FROM join_time)::bigint FROM members WHERE member_id = 'carol'`)
	joined := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	expire := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	res, err := svc.Open(ctx, []ledger.Opening{
		{MemberID: "alice", DisplayName: "Alice", JoinTime: joined, Points: 1000, Expire: expire, TierID: "gold", Metric: 40},
		{MemberID: "bob", DisplayName: "Bob", JoinTime: joined, Metric: 1500},
		{MemberID: "carol", DisplayName: "Not Carol's name", Points: 200},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Status != ledger.OpeningImported {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	imported := func(member string) (events.ImportedData, int64) {
		t.Helper()
		var raw []byte
		var seq int64
		var occur time.Time
		err := pool.QueryRow(ctx, `SELECT data, member_seq, occur_time FROM events WHERE member_id = $1 AND type = 'member.imported'`, member).Scan(&raw, &seq, &occur)
		if err != nil {
			t.Fatalf("%s's member.imported: %v", member, err)
		}
		if !occur.Equal(now) {
			t.Fatalf("%s's event at %v, want the import's time %v", member, occur, now)
		}
		var d events.ImportedData
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		return d, seq
	}
	lotOf := func(entryID int64) string {
		return strconv.FormatInt(count(t, pool, `SELECT lot_id FROM lots WHERE entry_id = $1`, entryID), 10)
	}

	alice, seq := imported("alice")
	if seq != 1 || alice.MemberID != "alice" || alice.DisplayName != "Alice" || !alice.JoinTime.Equal(joined) || !alice.Created ||
		alice.TierID != "gold" || alice.Metric != 40 {
		t.Fatalf("alice's event %+v (seq %d)", alice, seq)
	}
	o := alice.Opening
	if o == nil || o.EntryID != strconv.FormatInt(res[0].EntryID, 10) || o.Points != 1000 || o.Available != 1000 || o.Pending != 0 || o.Held != 0 ||
		o.LotID != lotOf(res[0].EntryID) || o.ExpireTime == nil || !o.ExpireTime.Equal(expire) {
		t.Fatalf("alice's opening %+v", o)
	}
	if s := alice.Started; s == nil || s.FromTierID != "member" || s.Reason != tiers.ReasonImported || s.PeriodEnd == nil || !s.PeriodEnd.After(now) {
		t.Fatalf("alice's start tier %+v", s)
	}

	bob, _ := imported("bob")
	if !bob.Created || bob.DisplayName != "Bob" || bob.Opening != nil || bob.TierID != "silver" || bob.Metric != 1500 ||
		bob.Started == nil || bob.Started.FromTierID != "member" {
		t.Fatalf("bob's event %+v", bob)
	}

	// carol existed: she keeps her name and join time, and her tier (the bottom one:
	// nothing started).
	carol, seq := imported("carol")
	if seq != 2 || carol.Created || carol.DisplayName != "" || carol.JoinTime.Unix() != carolJoined || carol.TierID != "member" ||
		carol.Started != nil || carol.Opening == nil || carol.Opening.Points != 200 || carol.Opening.LotID != lotOf(res[2].EntryID) {
		t.Fatalf("carol's event %+v (seq %d)", carol, seq)
	}
	// The members it created have their balance rows as the import left them: bob,
	// opened at zero, has no last entry.
	if n := count(t, pool, `SELECT count(*) FROM member_balances WHERE (member_id = 'alice' AND available = 1000 AND last_entry_time = $1)
		OR (member_id = 'bob' AND available = 0 AND last_entry_time IS NULL) OR (member_id = 'carol' AND available = 200)`, now); n != 3 {
		t.Fatalf("%d of the 3 balance rows as the import left them", n)
	}
	// Nothing else: the three events an import wrote before are not written.
	if n := count(t, pool, `SELECT count(*) FROM events WHERE type IN ('member.enrolled', 'points.opened', 'tier.changed') AND member_id <> 'carol'`); n != 0 {
		t.Fatalf("%d enrolment, opening or tier events beside member.imported", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM events WHERE member_id = 'carol' AND type <> 'member.imported'`); n != 1 {
		t.Fatalf("carol has %d events besides her import, want her enrolment", n)
	}
	mustVerify(t, svc)
}
