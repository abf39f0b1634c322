package campaigns_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

// referralEngine is newEngine with the program's return window and time zone set.
func referralEngine(t testing.TB, windowDays int32, timeZone string, members ...string) engine {
	t.Helper()
	e := newEngine(t, members...)
	prog, err := e.ledger.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog.ReturnWindowDays, prog.TimeZone = windowDays, timeZone
	if _, err := e.ledger.UpdateProgram(ctx, actor, prog); err != nil {
		t.Fatal(err)
	}
	return e
}

func referralCampaign(referrer, referred int64, perMonth int32, budget int64) campaigns.Definition {
	return campaigns.Definition{DisplayName: "Bring a friend", Type: campaigns.TypeReferral,
		Referral: campaigns.ReferralReward{ReferrerPoints: referrer, ReferredPoints: referred,
			Caps: campaigns.ReferralCaps{PerReferrerPerMonth: perMonth}},
		Budget: campaigns.Budget{Points: budget}}
}

func (e engine) refer(t testing.TB, referrer, referred string) campaigns.Referral {
	t.Helper()
	r, err := e.campaigns.RecordReferral(ctx, actor, campaigns.RecordReferralCmd{RequestID: "ref-" + referred, MemberID: referrer, ReferredMemberID: referred})
	if err != nil {
		t.Fatalf("refer %s: %v", referred, err)
	}
	return r
}

func (e engine) earnOrder(t testing.TB, member, orderID string, points int64) {
	t.Helper()
	if _, err := e.ledger.Earn(ctx, actor, ledger.Earn{MemberID: member, RequestID: "earn-" + orderID, OrderID: orderID, Points: points}); err != nil {
		t.Fatalf("earn on %s: %v", orderID, err)
	}
}

func (e engine) available(t testing.TB, member string) int64 {
	t.Helper()
	b, err := e.ledger.Balance(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	return b.Available
}

// referralOf is the referrer's referral of the member, as listed.
func (e engine) referralOf(t testing.TB, referrer, referred string) campaigns.Referral {
	t.Helper()
	list, _, err := e.campaigns.Referrals(ctx, campaigns.ReferralQuery{MemberID: referrer, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		if r.ReferredMemberID == referred {
			return r
		}
	}
	t.Fatalf("%s has no referral of %s in %+v", referrer, referred, list)
	return campaigns.Referral{}
}

func (e engine) payReferrals(t testing.TB) int {
	t.Helper()
	n, err := e.campaigns.PayReferrals(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReferralPaysBothOnceAfterTheReturnWindow(t *testing.T) {
	e := referralEngine(t, 7, "Asia/Shanghai", "rita", "ned")
	c := e.launch(t, referralCampaign(200, 100, 0, 0))
	e.refer(t, "rita", "ned")
	e.earnOrder(t, "ned", "o-1", 50)
	e.earnOrder(t, "ned", "o-2", 70) // a second order pays nothing more
	if n := e.payReferrals(t); n != 0 {
		t.Fatalf("settled %d inside the return window", n)
	}
	if r := e.referralOf(t, "rita", "ned"); r.Status != campaigns.ReferralPending {
		t.Fatalf("inside the window: %+v", r)
	}
	e.clock.Advance(8 * 24 * time.Hour)
	if _, err := e.ledger.ReleasePending(ctx, 100); err != nil {
		t.Fatal(err)
	}
	// Two racing runners, then a third run: the referral is paid once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.campaigns.PayReferrals(ctx, 500) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.payReferrals(t); n != 0 {
		t.Fatalf("a later run settled %d again", n)
	}
	r := e.referralOf(t, "rita", "ned")
	if r.Status != campaigns.ReferralPaid || r.CampaignID != c.ID || r.ReferrerPoints != 200 || r.ReferredPoints != 100 ||
		r.ReferrerEntryID == 0 || r.ReferredEntryID == 0 {
		t.Fatalf("referral: %+v", r)
	}
	if got := e.available(t, "rita"); got != 200 {
		t.Fatalf("referrer has %d, want 200", got)
	}
	if got := e.available(t, "ned"); got != 50+70+100 {
		t.Fatalf("referred member has %d, want 220", got)
	}
	for member, id := range map[string]int64{"rita": r.ReferrerEntryID, "ned": r.ReferredEntryID} {
		en, err := e.ledger.Entry(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if en.Kind != ledger.KindReferral || en.MemberID != member || en.RequestID != "system#referral:ned:"+map[string]string{"rita": "referrer", "ned": "referred"}[member] {
			t.Fatalf("entry of %s: %+v", member, en)
		}
	}
	if got := e.campaignAccount(t, c.ID); got != -300 {
		t.Fatalf("campaign account %d, want -300", got)
	}
	e.mustVerify(t)
}

func TestReferralFirstOrderRefundedInsideTheWindowPaysNothing(t *testing.T) {
	e := referralEngine(t, 7, "Asia/Shanghai", "rita", "ned")
	c := e.launch(t, referralCampaign(200, 100, 0, 0))
	e.refer(t, "rita", "ned")
	if _, err := e.ledger.Earn(ctx, actor, ledger.Earn{MemberID: "ned", RequestID: "earn-o-1", OrderID: "o-1", SpendMinor: 10000, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * 24 * time.Hour)
	if _, err := e.ledger.RefundOrder(ctx, actor, ledger.Refund{MemberID: "ned", OrderID: "o-1", RequestID: "refund-o-1", AmountMinor: 10000}); err != nil {
		t.Fatal(err)
	}
	e.earnOrder(t, "ned", "o-2", 70) // a later order is not the first
	e.clock.Advance(8 * 24 * time.Hour)
	if _, err := e.ledger.ReleasePending(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := e.payReferrals(t); n != 1 {
		t.Fatalf("settled %d, want the one VOID", n)
	}
	if r := e.referralOf(t, "rita", "ned"); r.Status != campaigns.ReferralVoid || r.ReferrerEntryID != 0 || r.ReferredEntryID != 0 {
		t.Fatalf("referral: %+v", r)
	}
	if got := e.available(t, "rita"); got != 0 {
		t.Fatalf("referrer has %d", got)
	}
	if got := e.available(t, "ned"); got != 70 {
		t.Fatalf("referred member has %d, want only the second order's 70", got)
	}
	if got := e.campaignAccount(t, c.ID); got != 0 {
		t.Fatalf("campaign account %d", got)
	}
	e.mustVerify(t)
}

func TestRacingIdenticalReferralsRecordOnce(t *testing.T) {
	e := referralEngine(t, 7, "Asia/Shanghai", "rita", "olga", "ned", "bob")
	const n = 50
	out := make([]campaigns.Referral, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out[i], errs[i] = e.campaigns.RecordReferral(ctx, actor, campaigns.RecordReferralCmd{RequestID: "r-1", MemberID: "rita", ReferredMemberID: "ned"})
		})
	}
	wg.Wait()
	replays := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("copy %d: %v", i, errs[i])
		}
		if out[i].ReferredMemberID != "ned" || out[i].CreateTime != out[0].CreateTime {
			t.Fatalf("copy %d answered %+v, copy 0 %+v", i, out[i], out[0])
		}
		if out[i].Replayed {
			replays++
		}
	}
	if replays != n-1 {
		t.Fatalf("%d replays, want %d", replays, n-1)
	}
	list, _, err := e.campaigns.Referrals(ctx, campaigns.ReferralQuery{MemberID: "rita"})
	if err != nil || len(list) != 1 {
		t.Fatalf("referrals: %+v, %v", list, err)
	}

	// The rules, through the service: each refusal names its field and changes nothing.
	e.earnOrder(t, "bob", "b-1", 10)
	for _, tc := range []struct {
		name   string
		cmd    campaigns.RecordReferralCmd
		kind   problem.Kind
		reason string
		field  string
	}{
		{"a second referrer", campaigns.RecordReferralCmd{RequestID: "r-2", MemberID: "olga", ReferredMemberID: "ned"}, problem.Conflict, "ALREADY_REFERRED", "referredMemberId"},
		{"the same referrer, another request", campaigns.RecordReferralCmd{RequestID: "r-3", MemberID: "rita", ReferredMemberID: "ned"}, problem.Conflict, "ALREADY_REFERRED", "referredMemberId"},
		{"the same request id, another member", campaigns.RecordReferralCmd{RequestID: "r-1", MemberID: "rita", ReferredMemberID: "olga"}, problem.Conflict, "IDEMPOTENCY_CONFLICT", ""},
		{"oneself", campaigns.RecordReferralCmd{RequestID: "r-4", MemberID: "rita", ReferredMemberID: "rita"}, problem.Invalid, "INVALID_ARGUMENT", "referredMemberId"},
		{"after the first order", campaigns.RecordReferralCmd{RequestID: "r-5", MemberID: "rita", ReferredMemberID: "bob"}, problem.Precondition, "ALREADY_ORDERED", "referredMemberId"},
		{"an unknown referrer", campaigns.RecordReferralCmd{RequestID: "r-6", MemberID: "nobody", ReferredMemberID: "olga"}, problem.NotFound, "MEMBER_NOT_FOUND", "memberId"},
		{"an unknown referred member", campaigns.RecordReferralCmd{RequestID: "r-7", MemberID: "rita", ReferredMemberID: "nobody"}, problem.NotFound, "MEMBER_NOT_FOUND", "referredMemberId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.campaigns.RecordReferral(ctx, actor, tc.cmd)
			pe, ok := problem.As(err)
			if !ok || pe.Kind != tc.kind || pe.Reason != tc.reason {
				t.Fatalf("got %v, want %s", err, tc.reason)
			}
			if tc.field != "" && (len(pe.Fields) == 0 || pe.Fields[0].Field != tc.field) {
				t.Fatalf("fields %+v, want %s", pe.Fields, tc.field)
			}
		})
	}
	for _, m := range []string{"rita", "olga"} {
		list, _, err := e.campaigns.Referrals(ctx, campaigns.ReferralQuery{MemberID: m})
		if err != nil || len(list) != map[string]int{"rita": 1, "olga": 0}[m] {
			t.Fatalf("referrals of %s after the refusals: %+v, %v", m, list, err)
		}
	}
	if _, _, err := e.campaigns.Referrals(ctx, campaigns.ReferralQuery{MemberID: "nobody"}); !errors.Is(err, ledger.ErrMemberNotFound) {
		t.Fatalf("list of an unknown member: %v", err)
	}
}

func TestReferralMonthlyCapFollowsTheProgramsMonth(t *testing.T) {
	e := referralEngine(t, 0, "Asia/Shanghai", "rita", "a", "b", "c")
	e.launch(t, referralCampaign(200, 100, 1, 0))
	// 23:30 on 31 January in Shanghai is 15:30 UTC: an hour later it is February
	// there and still January in UTC.
	e.clock.Set(time.Date(2027, time.January, 31, 15, 30, 0, 0, time.UTC))
	for _, m := range []string{"a", "b", "c"} {
		e.refer(t, "rita", m)
	}
	e.earnOrder(t, "a", "a-1", 10)
	e.payReferrals(t)
	e.clock.Advance(10 * time.Minute)
	e.earnOrder(t, "b", "b-1", 10)
	e.payReferrals(t)
	e.clock.Advance(time.Hour) // 00:40 on 1 February in Shanghai
	e.earnOrder(t, "c", "c-1", 10)
	e.payReferrals(t)
	for m, want := range map[string]string{"a": campaigns.ReferralPaid, "b": campaigns.ReferralCapped, "c": campaigns.ReferralPaid} {
		if r := e.referralOf(t, "rita", m); r.Status != want {
			t.Fatalf("referral of %s: %s, want %s", m, r.Status, want)
		}
	}
	if got := e.available(t, "rita"); got != 400 {
		t.Fatalf("referrer has %d, want 400", got)
	}
	if got := e.available(t, "b"); got != 10 {
		t.Fatalf("the capped referral's member has %d, want only the order's 10", got)
	}
	e.mustVerify(t)
}

func TestRacingReferralPayoutsStopAtTheBudgetExactly(t *testing.T) {
	const referrals = 12
	var members []string
	for i := range referrals {
		members = append(members, fmt.Sprintf("r%02d", i), fmt.Sprintf("n%02d", i))
	}
	e := referralEngine(t, 0, "Asia/Shanghai", members...)
	// 1000 points pay three referrals of 300; the fourth would need 1200.
	c := e.launch(t, referralCampaign(200, 100, 0, 1000))
	for i := range referrals {
		e.refer(t, fmt.Sprintf("r%02d", i), fmt.Sprintf("n%02d", i))
		e.earnOrder(t, fmt.Sprintf("n%02d", i), fmt.Sprintf("o%02d", i), 10)
	}
	// Four runners race, each a few referrals at a time.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			for {
				n, err := e.campaigns.PayReferrals(ctx, 3)
				if err != nil || n == 0 {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	paid, exhausted, points := 0, 0, int64(0)
	for i := range referrals {
		r := e.referralOf(t, fmt.Sprintf("r%02d", i), fmt.Sprintf("n%02d", i))
		switch r.Status {
		case campaigns.ReferralPaid:
			paid++
			points += r.ReferrerPoints + r.ReferredPoints
			if got := e.available(t, r.ReferrerMemberID); got != 200 {
				t.Fatalf("paid referrer %s has %d", r.ReferrerMemberID, got)
			}
		case campaigns.ReferralBudgetExhausted:
			exhausted++
			if got := e.available(t, r.ReferrerMemberID); got != 0 {
				t.Fatalf("unpaid referrer %s has %d", r.ReferrerMemberID, got)
			}
		default:
			t.Fatalf("referral %+v", r)
		}
	}
	if paid != 3 || exhausted != referrals-3 || points != 900 {
		t.Fatalf("paid %d (%d points), exhausted %d", paid, points, exhausted)
	}
	if got := e.campaignAccount(t, c.ID); got != -900 {
		t.Fatalf("campaign account %d, want -900", got)
	}
	e.mustVerify(t)
}
