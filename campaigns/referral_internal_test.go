package campaigns

import (
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestSelfReferralRefusal(t *testing.T) {
	for _, tc := range []struct {
		referrer, referred string
		refused            bool
	}{{"ann", "bob", false}, {"ann", "ann", true}, {"ann", "Ann", false}} {
		err := selfReferralRefusal(tc.referrer, tc.referred)
		if pe, ok := problem.As(err); (err != nil) != tc.refused || (ok && pe.Fields[0].Field != "referredMemberId") {
			t.Errorf("%s refers %s: %v", tc.referrer, tc.referred, err)
		}
	}
}

func TestRecordedReferralAnswer(t *testing.T) {
	existing := campaignsdb.Referral{ReferrerMemberID: "ann", ReferredMemberID: "bob", RequestID: "r-1"}
	for _, tc := range []struct {
		name   string
		cmd    RecordReferralCmd
		replay bool
	}{
		{"the same request again", RecordReferralCmd{RequestID: "r-1", MemberID: "ann", ReferredMemberID: "bob"}, true},
		{"a second referrer", RecordReferralCmd{RequestID: "r-1", MemberID: "cat", ReferredMemberID: "bob"}, false},
		{"the same referrer, another request", RecordReferralCmd{RequestID: "r-2", MemberID: "ann", ReferredMemberID: "bob"}, false},
	} {
		replay, err := recordedReferralAnswer(existing, tc.cmd)
		if replay != tc.replay || (err == nil) != tc.replay {
			t.Errorf("%s: replay %v, %v", tc.name, replay, err)
		}
		if pe, ok := problem.As(err); ok && (pe.Kind != problem.Conflict || pe.Fields[0].Field != "referredMemberId") {
			t.Errorf("%s: %+v", tc.name, pe)
		}
	}
}

func TestOrderedRefusal(t *testing.T) {
	if err := orderedRefusal("bob", false); err != nil {
		t.Errorf("without an order: %v", err)
	}
	pe, ok := problem.As(orderedRefusal("bob", true))
	if !ok || pe.Reason != "ALREADY_ORDERED" || pe.Fields[0].Field != "referredMemberId" {
		t.Errorf("after an order: %+v", pe)
	}
}

func TestMonthlyReferralCapReached(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 on 31 January in Shanghai.
	jan31 := time.Date(2027, time.January, 31, 15, 30, 0, 0, time.UTC)
	paid := []paidReferral{{campaignID: "c1", paidTime: jan31}}
	for _, tc := range []struct {
		name string
		caps ReferralCaps
		paid []paidReferral
		at   time.Time
		want bool
	}{
		{"no cap", ReferralCaps{}, paid, jan31, false},
		{"the month's one paid", ReferralCaps{PerReferrerPerMonth: 1}, paid, jan31.Add(10 * time.Minute), true},
		{"the next month in the program's zone, January in UTC", ReferralCaps{PerReferrerPerMonth: 1}, paid, jan31.Add(time.Hour), false},
		{"another campaign's referral does not count", ReferralCaps{PerReferrerPerMonth: 1}, []paidReferral{{campaignID: "c2", paidTime: jan31}}, jan31, false},
		{"below the cap", ReferralCaps{PerReferrerPerMonth: 2}, paid, jan31, false},
	} {
		if got := monthlyReferralCapReached(tc.caps, tc.paid, "c1", tc.at, sh); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReferralFits(t *testing.T) {
	now := time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC)
	budget := func(budgetPoints, spent int64, capPoints int64, partial bool) *campaignBudget {
		return &campaignBudget{campaign: Campaign{Status: StatusActive}, capPoints: capPoints, partial: partial,
			slices: []*budgetSlice{{budgetPoints: budgetPoints / 2, spentPoints: spent / 2, budgetCoupons: -1}, {budgetPoints: budgetPoints - budgetPoints/2, spentPoints: spent - spent/2, budgetCoupons: -1}}}
	}
	for _, tc := range []struct {
		name         string
		cb           *campaignBudget
		used         int64
		refusal      string
		isIncomplete bool
	}{
		{"unbounded", &campaignBudget{campaign: Campaign{Status: StatusActive}, slices: []*budgetSlice{{budgetPoints: -1, budgetCoupons: -1}}}, 0, "", false},
		{"both sides fit exactly", budget(1000, 700, 0, false), 0, "", false},
		{"one side would fit, not both", budget(1000, 800, 0, false), 0, RefusedBudgetExhausted, false},
		{"some slices read cannot tell", budget(1000, 800, 0, true), 0, "", true},
		{"a member's cap leaves less than its side", budget(0, 0, 250, false), 100, RefusedMemberCap, false},
		{"paused", &campaignBudget{campaign: Campaign{Status: StatusPaused}}, 0, RefusedNotActive, false},
	} {
		if tc.cb.slices != nil && tc.cb.slices[0].budgetPoints == 0 {
			for _, s := range tc.cb.slices {
				s.budgetPoints = -1
			}
		}
		r, inc := referralFits(tc.cb, &memberUse{points: tc.used}, &memberUse{}, 200, 100, now)
		if r != tc.refusal || inc != tc.isIncomplete {
			t.Errorf("%s: %q %v, want %q %v", tc.name, r, inc, tc.refusal, tc.isIncomplete)
		}
	}
}
