package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestAnExpiredHoldCannotBeCapturedAndIsReleasedOnceByRacingSweepers(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	mustEarn(t, svc, "m", "seed", 1000)
	var ids []int64
	for i := 0; i < 40; i++ {
		res, err := svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: "m", RequestID: fmt.Sprintf("h%d", i), Points: 10, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Hold.ID)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 600 || b.Held != 400 {
		t.Fatalf("balance %+v, want 600 available and 400 held", b)
	}
	clock.Advance(time.Minute)
	_, err := svc.CaptureHold(ctx, actor, ledger.CaptureHold{HoldID: ids[0], RequestID: "late"})
	if !errors.Is(err, ledger.ErrHoldExpired) {
		t.Fatalf("capturing an expired hold: %v, want HOLD_EXPIRED", err)
	}

	var released atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := svc.ExpireHolds(ctx, 7)
				if err != nil {
					t.Errorf("expire: %v", err)
					return
				}
				released.Add(int64(n))
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if released.Load() != 40 {
		t.Fatalf("released %d holds, want 40", released.Load())
	}
	if b := balanceOf(t, svc, "m"); b.Available != 1000 || b.Held != 0 {
		t.Fatalf("balance %+v after expiry, want all 1000 available", b)
	}
	h, err := svc.GetHold(ctx, ids[3])
	if err != nil || h.Status != ledger.HoldExpired {
		t.Fatalf("hold %+v (%v), want EXPIRED", h, err)
	}
	mustVerify(t, svc)
}

func TestBalanceAsOfAndStatementFilters(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	e1 := mustEarn(t, svc, "m", "e1", 100)
	// Entries are stamped with business time, not the wall clock.
	clock.Advance(5 * time.Millisecond)
	between := clock.Now()
	clock.Advance(5 * time.Millisecond)
	if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r1", Points: 30}); err != nil {
		t.Fatal(err)
	}
	mustEarn(t, svc, "m", "e2", 5)

	then, err := svc.BalanceAsOf(ctx, "m", between)
	if err != nil || then.Available != 100 {
		t.Fatalf("as of between: %+v %v, want 100", then, err)
	}
	before, err := svc.BalanceAsOf(ctx, "m", e1.CreateTime.Add(-time.Second))
	if err != nil || before.Available != 0 {
		t.Fatalf("as of before anything: %+v %v, want 0", before, err)
	}

	all, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: "m"})
	if err != nil || len(all.Entries) != 3 || all.Entries[0].AvailableAfter != 75 || all.Entries[2].AvailableAfter != 100 {
		t.Fatalf("statement %+v %v", all, err)
	}
	redeems, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: "m", Kinds: []string{"REDEEM"}})
	if err != nil || len(redeems.Entries) != 1 || redeems.Entries[0].Delta(ledger.AccountAvailable) != -30 {
		t.Fatalf("redeem filter: %+v %v", redeems, err)
	}
	early, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: "m", EndTime: between})
	if err != nil || len(early.Entries) != 1 || early.Entries[0].ID != e1.ID {
		t.Fatalf("end time filter: %+v %v", early, err)
	}
	var seen []int64
	token := ""
	for page := 0; page < 5; page++ {
		a, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: "m", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range a.Entries {
			seen = append(seen, e.ID)
		}
		if token = a.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != 3 || !(seen[0] > seen[1] && seen[1] > seen[2]) {
		t.Fatalf("paged ids %v, want 3 entries newest first", seen)
	}
}

// rawPool opens a second pool on the ledger's database, to tamper with it.
func rawPool(t *testing.T) (*ledger.Service, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.NewPool(t)
	svc := ledger.NewService(pool, tiers.NewService(pool))
	for _, m := range []string{"a", "b"} {
		if _, _, err := svc.Enroll(context.Background(), ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, pool
}

func TestVerifyFindsEveryKindOfTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper string
		kind   string
	}{
		{"member cache", `UPDATE member_balances SET available = available + 1 WHERE member_id = 'a'`, ledger.DiscrepancyBalanceMismatch},
		{"system cache", `INSERT INTO system_deltas (account, amount) VALUES ('system:issued', 5)`, ledger.DiscrepancyBalanceMismatch},
		{"held without hold", `UPDATE member_balances SET held = held + 3, available = available - 3 WHERE member_id = 'b'`, ledger.DiscrepancyHeldMismatch},
		{"negative", `UPDATE member_balances SET available = -1 WHERE member_id = 'b'`, ledger.DiscrepancyNegativeBalance},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, pool := rawPool(t)
			mustEarn(t, svc, "a", "e", 10)
			mustEarn(t, svc, "b", "e", 10)
			mustVerify(t, svc)
			if _, err := pool.Exec(context.Background(), tc.tamper); err != nil {
				t.Fatal(err)
			}
			v, err := svc.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range v.Discrepancies {
				found = found || d.Kind == tc.kind
			}
			if v.OK || !found {
				t.Fatalf("verify missed the tampering: %+v", v)
			}
		})
	}
}

func TestEntriesAreImmutableAndMustBalance(t *testing.T) {
	svc, pool := rawPool(t)
	e := mustEarn(t, svc, "a", "e", 10)
	ctx := context.Background()
	for _, stmt := range []string{
		`UPDATE entries SET amounts = '{11,-11}' WHERE entry_id = $1`,
		`DELETE FROM entries WHERE entry_id = $1`,
		`TRUNCATE entries CASCADE`,
	} {
		args := []any{e.ID}
		if stmt[0] == 'T' {
			args = nil
		}
		if _, err := pool.Exec(ctx, stmt, args...); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO entries (member_id, kind, accounts, amounts, available_after, pending_after, held_after, request_id)
		VALUES ('a', 'EARN', '{available,system:issued}', '{10,-9}', 0, 0, 0, 'x')`); err == nil {
		t.Error("an unbalanced entry was accepted")
	}
	mustVerify(t, svc)
}
