package ledger_test

import (
	"context"
	"testing"
	"time"
)

// Entries are stamped with business time, but a member's entries never go back in
// time by entry id, even when the time an entry was judged at is earlier than the
// member's last entry (another replica's clock a little ahead, a request that took
// the row lock late): "balance as of" and statements by time stay right. Other
// members are not held to it.
func TestEntriesOfAMemberStayInTimeOrder(t *testing.T) {
	svc, clock := newLedger(t, "m", "n")
	ctx := context.Background()
	t0 := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	clock.Set(t0)
	first := mustEarn(t, svc, "m", "e1", 100)
	if !first.CreateTime.Equal(t0) {
		t.Fatalf("entry stamped %s, want the business time %s", first.CreateTime, t0)
	}
	clock.Set(t0.Add(-time.Hour))
	second := mustEarn(t, svc, "m", "e2", 50)
	if !second.CreateTime.Equal(t0) {
		t.Fatalf("a later entry stamped %s, before the member's previous entry at %s", second.CreateTime, t0)
	}
	other := mustEarn(t, svc, "n", "e1", 10)
	if !other.CreateTime.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("another member's entry stamped %s, want %s", other.CreateTime, t0.Add(-time.Hour))
	}
	b, err := svc.BalanceAsOf(ctx, "m", t0)
	if err != nil || b.Available != 150 {
		t.Fatalf("balance as of %s: %+v %v, want 150", t0, b, err)
	}
	b, err = svc.BalanceAsOf(ctx, "m", t0.Add(-time.Minute))
	if err != nil || b.Available != 0 {
		t.Fatalf("balance as of a minute before: %+v %v, want 0", b, err)
	}
	mustVerify(t, svc)
}
