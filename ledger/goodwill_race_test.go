package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Goodwill through the group commit, raced with earnings and redemptions on the
// same members: many grants of one limited key at once keep the daily limit
// exactly (what is granted never passes it, and no grant that would still have fit
// waits), racing approvals and rejections of one approval decide it once, and the
// books verify with every member's balance what the successful calls add up to.
func TestRacingGoodwillThroughTheGroupCommitKeepsTheBooks(t *testing.T) {
	members := []string{"ga", "gb", "gc"}
	svc, _ := newLedger(t, members...)
	ctx := context.Background()
	want := map[string]int64{}
	for _, m := range members {
		mustEarn(t, svc, m, "seed", 1000)
		want[m] = 1000
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	// churn earns or redeems on member m, as a caller racing the goodwill would.
	churn := func(r *rand.Rand, m, requestID string) {
		defer wg.Done()
		if r.IntN(2) == 0 {
			p := 1 + r.Int64N(50)
			if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: requestID, Points: p}); err != nil {
				t.Errorf("earn: %v", err)
				return
			}
			mu.Lock()
			want[m] += p
			mu.Unlock()
			return
		}
		p := 1 + r.Int64N(40)
		_, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: m, RequestID: requestID, Points: p})
		switch {
		case err == nil:
			mu.Lock()
			want[m] -= p
			mu.Unlock()
		case !errors.Is(err, ledger.ErrInsufficientPoints):
			t.Errorf("redeem: %v", err)
		}
	}

	// 48 grants of 50 to 650 points by one agent key (500 per grant, 2,000 a day).
	type grantResult struct {
		cmd      ledger.GrantGoodwill
		posted   bool
		approval ledger.Approval
	}
	var grants []grantResult
	for i := range 48 {
		r := rand.New(rand.NewPCG(uint64(i), 11))
		m := members[i%len(members)]
		cmd := grant(m, fmt.Sprintf("race-%d", i), 50+50*r.Int64N(13))
		wg.Add(2)
		go func() {
			defer wg.Done()
			res, err := svc.GrantGoodwill(ctx, agent, cmd)
			if err != nil {
				t.Errorf("grant %s: %v", cmd.RequestID, err)
				return
			}
			g := grantResult{cmd: cmd, posted: res.Approval == nil}
			if res.Approval != nil {
				g.approval = *res.Approval
			} else if res.Entry.Delta(ledger.AccountAvailable) != cmd.Points {
				t.Errorf("grant %s posted %+v", cmd.RequestID, res.Entry)
			}
			mu.Lock()
			grants = append(grants, g)
			if g.posted {
				want[m] += cmd.Points
			}
			mu.Unlock()
		}()
		go churn(r, m, fmt.Sprintf("churn-%d", i))
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var granted int64
	var pending []grantResult
	for _, g := range grants {
		if g.posted {
			granted += g.cmd.Points
		} else {
			if g.approval.Status != ledger.ApprovalPending || g.approval.Points != g.cmd.Points || g.approval.ID == 0 {
				t.Fatalf("grant %s: approval %+v", g.cmd.RequestID, g.approval)
			}
			pending = append(pending, g)
		}
	}
	if len(grants) != 48 || granted > ledger.DefaultGoodwillPerDay {
		t.Fatalf("%d grants answered, %d points granted: above the daily limit", len(grants), granted)
	}
	for _, g := range pending {
		// The key's total only grew, so a grant that waits did not fit then nor now.
		if g.cmd.Points <= ledger.DefaultGoodwillPerGrant && granted+g.cmd.Points <= ledger.DefaultGoodwillPerDay {
			t.Fatalf("grant %s of %d waits, yet the day has %d points granted", g.cmd.RequestID, g.cmd.Points, granted)
		}
	}
	// Exactly: what is left of the day is granted at once, one point more waits.
	if left := ledger.DefaultGoodwillPerDay - granted; left > 0 && left <= ledger.DefaultGoodwillPerGrant {
		res, err := svc.GrantGoodwill(ctx, agent, grant("ga", "rest-of-day", left))
		if err != nil || res.Approval != nil {
			t.Fatalf("the %d points left of the day: %+v %v", left, res, err)
		}
		want["ga"] += left
	}
	if res, err := svc.GrantGoodwill(ctx, agent, grant("ga", "one-more", 1)); err != nil || res.Approval == nil {
		t.Fatalf("a point past the full day: %+v %v", res, err)
	}
	if len(pending) < 4 {
		t.Fatalf("only %d grants wait for approval: not a race of the limit", len(pending))
	}

	// Racing decisions: four approvals, each approved three times and rejected
	// three times at once, while the members earn and redeem.
	admin := ledger.Actor{KeyID: "key_admin"}
	type decision struct {
		approve bool
		a       ledger.Approval
		e       ledger.Entry
	}
	won := map[int64][]decision{}
	for i, g := range pending[:4] {
		for j := range 6 {
			approve := j%2 == 0
			wg.Add(2)
			go func() {
				defer wg.Done()
				a, e, err := svc.DecideApproval(ctx, admin, g.approval.ID, approve)
				switch {
				case err == nil:
					mu.Lock()
					won[g.approval.ID] = append(won[g.approval.ID], decision{approve, a, e})
					if approve {
						want[g.cmd.MemberID] += g.cmd.Points
					}
					mu.Unlock()
				case !errors.Is(err, ledger.ErrApprovalNotPending):
					t.Errorf("decide %d: %v", g.approval.ID, err)
				}
			}()
			go churn(rand.New(rand.NewPCG(uint64(i), uint64(j))), g.cmd.MemberID, fmt.Sprintf("churn-%d-%d", i, j))
		}
	}
	wg.Wait()
	for _, g := range pending[:4] {
		d := won[g.approval.ID]
		if len(d) != 1 {
			t.Fatalf("approval %d decided %d times: %+v", g.approval.ID, len(d), d)
		}
		// The agent's retry answers what the decision made of the grant.
		again, err := svc.GrantGoodwill(ctx, agent, g.cmd)
		switch w := d[0]; {
		case err != nil:
			t.Fatalf("retry of %s: %v", g.cmd.RequestID, err)
		case w.approve && (w.a.Status != ledger.ApprovalApproved || w.a.EntryID != w.e.ID || again.Entry.ID != w.e.ID):
			t.Fatalf("approved %+v %+v, retry %+v", w.a, w.e, again)
		case !w.approve && (w.a.Status != ledger.ApprovalRejected || w.e.ID != 0 || again.Approval == nil || again.Approval.Status != ledger.ApprovalRejected):
			t.Fatalf("rejected %+v %+v, retry %+v", w.a, w.e, again)
		}
	}
	for _, m := range members {
		if b := balanceOf(t, svc, m); b.Available != want[m] {
			t.Errorf("member %s has %d available, the calls add up to %d", m, b.Available, want[m])
		}
	}
	v := mustVerify(t, svc)
	t.Logf("%d points granted at once, %d grants waiting; books verify over %d entries", granted, len(pending), v.EntriesChecked)
}
