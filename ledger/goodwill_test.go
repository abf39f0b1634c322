package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

var agent = ledger.Actor{KeyID: "key_agent", GoodwillLimited: true}

func grant(member, requestID string, points int64) ledger.GrantGoodwill {
	return ledger.GrantGoodwill{MemberID: member, RequestID: requestID, Points: points, ReasonCode: "LATE_DELIVERY", TicketID: "T-" + requestID}
}

func TestGoodwillWithinLimitsIsPostedWithReasonTicketAndActor(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	res, err := svc.GrantGoodwill(ctx, agent, grant("m", "g1", 300))
	if err != nil || res.Approval != nil {
		t.Fatalf("grant: %+v %v", res, err)
	}
	e := res.Entry
	if e.Kind != ledger.KindGoodwill || e.ReasonCode != "LATE_DELIVERY" || e.TicketID != "T-g1" || e.ActorKeyID != "key_agent" ||
		e.Delta(ledger.AccountAvailable) != 300 || e.Delta(ledger.GoodwillAccount("LATE_DELIVERY")) != -300 {
		t.Fatalf("entry %+v", e)
	}
	again, err := svc.GrantGoodwill(ctx, agent, grant("m", "g1", 300))
	if err != nil || again.Entry.ID != e.ID {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	if _, err := svc.GrantGoodwill(ctx, agent, grant("m", "g1", 301)); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("reused request id: %v", err)
	}
	mustVerify(t, svc)
}

func TestGoodwillAboveTheLimitsWaitsForAnAdmin(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	big, err := svc.GrantGoodwill(ctx, agent, grant("m", "big", 600))
	if err != nil || big.Approval == nil || big.Approval.Status != ledger.ApprovalPending {
		t.Fatalf("grant above the per-grant limit: %+v %v", big, err)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 0 {
		t.Fatalf("a waiting grant changed the balance: %+v", b)
	}
	// A repeat of the waiting request answers the same approval.
	if again, err := svc.GrantGoodwill(ctx, agent, grant("m", "big", 600)); err != nil || again.Approval == nil || again.Approval.ID != big.Approval.ID {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	admin := ledger.Actor{KeyID: "key_admin"}
	a, e, err := svc.DecideApproval(ctx, admin, big.Approval.ID, true)
	if err != nil || a.Status != ledger.ApprovalApproved || a.EntryID != e.ID || a.DecidedBy != "key_admin" || e.Delta(ledger.AccountAvailable) != 600 {
		t.Fatalf("approve: %+v %+v %v", a, e, err)
	}
	if _, _, err := svc.DecideApproval(ctx, admin, big.Approval.ID, false); !errors.Is(err, ledger.ErrApprovalNotPending) {
		t.Fatalf("deciding twice: %v", err)
	}
	// The agent's retry of the original request now answers the posted entry.
	if again, err := svc.GrantGoodwill(ctx, agent, grant("m", "big", 600)); err != nil || again.Entry.ID != e.ID {
		t.Fatalf("retry after approval: %+v %v", again, err)
	}
	other, err := svc.GrantGoodwill(ctx, agent, grant("m", "other", 900))
	if err != nil || other.Approval == nil {
		t.Fatal(err)
	}
	if r, _, err := svc.DecideApproval(ctx, admin, other.Approval.ID, false); err != nil || r.Status != ledger.ApprovalRejected {
		t.Fatalf("reject: %+v %v", r, err)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 600 {
		t.Fatalf("balance %+v, want only the approved 600", b)
	}
	// Admin keys are not limited.
	if res, err := svc.GrantGoodwill(ctx, admin, grant("m", "admin", 5000)); err != nil || res.Approval != nil {
		t.Fatalf("admin grant: %+v %v", res, err)
	}
	mustVerify(t, svc)
}

// Racing grants that each fit but together pass the daily limit: the ones that
// would pass it wait for approval, and the day's posted total never exceeds it.
func TestRacingGoodwillGrantsNeverPassTheDailyLimit(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	posted, waiting := 0, 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.GrantGoodwill(ctx, agent, grant("m", fmt.Sprintf("r%d", i), 400))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("grant: %v", err)
			case res.Approval != nil:
				waiting++
			default:
				posted++
			}
		}()
	}
	wg.Wait()
	if posted != 5 || waiting != 7 {
		t.Fatalf("%d posted and %d waiting; want 5 (2,000 points) and 7", posted, waiting)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 2000 {
		t.Fatalf("balance %+v, want the daily limit of 2000", b)
	}
	// Racing approvals of one waiting grant post it once.
	list, _, err := svc.ListApprovals(ctx, ledger.ApprovalPending, 0, "")
	if err != nil || len(list) != 7 {
		t.Fatalf("pending approvals: %d %v", len(list), err)
	}
	approved := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := svc.DecideApproval(ctx, ledger.Actor{KeyID: "key_admin"}, list[0].ID, true)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				approved++
			} else if !errors.Is(err, ledger.ErrApprovalNotPending) {
				t.Errorf("approve: %v", err)
			}
		}()
	}
	wg.Wait()
	if approved != 1 || balanceOf(t, svc, "m").Available != 2400 {
		t.Fatalf("approved %d times, balance %+v", approved, balanceOf(t, svc, "m"))
	}
	mustVerify(t, svc)
}

func TestGoodwillLimitsPerKeyAndValidation(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	if _, err := svc.SetGoodwillLimits(ctx, ledger.GoodwillLimits{KeyID: "key_nobody", PerGrant: 1, PerDay: 1}); err == nil {
		t.Fatal("limits for an unknown key accepted")
	}
	bad := grant("m", "bad", 10)
	bad.ReasonCode = "BORED"
	if _, err := svc.GrantGoodwill(ctx, agent, bad); err == nil {
		t.Fatal("unknown reason accepted")
	}
	noTicket := grant("m", "nt", 10)
	noTicket.TicketID = ""
	if _, err := svc.GrantGoodwill(ctx, agent, noTicket); err == nil {
		t.Fatal("grant without a ticket accepted")
	}
	if b := balanceOf(t, svc, "m"); b.Available != 0 {
		t.Fatalf("refused grants changed the balance: %+v", b)
	}
}
