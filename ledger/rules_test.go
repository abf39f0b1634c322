package ledger

import (
	"testing"

	"github.com/loyalty-engine/loyalty/internal/validation"
)

func sum(ps []Posting) int64 {
	var s int64
	for _, p := range ps {
		s += p.Amount
	}
	return s
}

func TestPostingBuildersBalanceAndMoveTheRightAccounts(t *testing.T) {
	cases := []struct {
		name     string
		postings []Posting
		want     memberDeltas
		system   map[string]int64
	}{
		{"earn", earnPostings(120), memberDeltas{available: 120}, map[string]int64{AccountIssued: -120}},
		{"redeem", redeemPostings(30), memberDeltas{available: -30}, map[string]int64{AccountRedeemed: 30}},
		{"hold", holdPostings(50), memberDeltas{available: -50, held: 50}, nil},
		{"capture all", capturePostings(50, 50), memberDeltas{held: -50}, map[string]int64{AccountRedeemed: 50}},
		{"capture part", capturePostings(50, 20), memberDeltas{held: -50, available: 30}, map[string]int64{AccountRedeemed: 20}},
		{"release", releasePostings(50), memberDeltas{held: -50, available: 50}, nil},
		{"reverse redeem", reversalPostings(redeemPostings(30)), memberDeltas{available: 30}, map[string]int64{AccountRedeemed: -30}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkBalanced(tc.postings); err != nil {
				t.Fatalf("not balanced: %v", err)
			}
			d, accounts, amounts := split(tc.postings)
			if d != tc.want {
				t.Errorf("member deltas %+v, want %+v", d, tc.want)
			}
			got := map[string]int64{}
			for i, a := range accounts {
				got[a] += amounts[i]
			}
			if len(got) != len(tc.system) {
				t.Errorf("system postings %v, want %v", got, tc.system)
			}
			for a, v := range tc.system {
				if got[a] != v {
					t.Errorf("system %s = %d, want %d", a, got[a], v)
				}
			}
		})
	}
}

func TestCheckBalancedRefusesBadEntries(t *testing.T) {
	bad := map[string][]Posting{
		"one posting":   {{AccountAvailable, 0}},
		"not zero sum":  {{AccountAvailable, 10}, {AccountIssued, -9}},
		"zero amount":   {{AccountAvailable, 0}, {AccountIssued, 0}},
		"empty account": {{"", 10}, {AccountIssued, -10}},
	}
	for name, ps := range bad {
		if err := checkBalanced(ps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReversalOfACaptureGivesBackWhatItRedeemed(t *testing.T) {
	rev := reversalPostings(capturePostings(80, 30))
	d, accounts, amounts := split(rev)
	if d != (memberDeltas{available: 30}) || len(accounts) != 1 || accounts[0] != AccountRedeemed || amounts[0] != -30 {
		t.Fatalf("reversal of a capture: %v", rev)
	}
	if rev := reversalPostings(capturePostings(80, 80)); sum(rev) != 0 || len(rev) != 2 {
		t.Fatalf("reversal of a full capture: %v", rev)
	}
}

func TestReversalIsTheExactOpposite(t *testing.T) {
	orig := earnPostings(80)
	rev := reversalPostings(orig)
	if sum(rev) != 0 || len(rev) != len(orig) {
		t.Fatalf("reversal %v of %v", rev, orig)
	}
	for i := range orig {
		if rev[i].Account != orig[i].Account || rev[i].Amount != -orig[i].Amount {
			t.Errorf("posting %d: %v is not the opposite of %v", i, rev[i], orig[i])
		}
	}
}

func TestOnlyEarningsRedemptionsAndCapturesAreReversible(t *testing.T) {
	for _, k := range Kinds {
		want := k == KindEarn || k == KindRedeem || k == KindHoldCapture || k == KindGoodwill || k == KindCampaign || k == KindBulkCredit
		if reversible(k) != want {
			t.Errorf("reversible(%s) = %v", k, !want)
		}
	}
}

func TestPostingArrays(t *testing.T) {
	accounts, amounts := postingArrays([]Posting{{Account: "available", Amount: 500}, {Account: `system:campaign:a"b\c`, Amount: -500}})
	if want := `{"available","system:campaign:a\"b\\c"}`; accounts != want {
		t.Errorf("accounts %s, want %s", accounts, want)
	}
	if amounts != "{500,-500}" {
		t.Errorf("amounts %s", amounts)
	}
}

// The statement's kind filter takes every kind there is (the tag's list is the
// second place kinds are named).
func TestStatementFilterTakesEveryKind(t *testing.T) {
	for _, k := range Kinds {
		if err := validation.Struct(ListActivity{MemberID: "m", Kinds: []string{string(k)}}); err != nil {
			t.Errorf("kinds=%s: %v", k, err)
		}
	}
	if err := validation.Struct(ListActivity{MemberID: "m", Kinds: []string{"NOT_A_KIND"}}); err == nil {
		t.Error("kinds=NOT_A_KIND was taken")
	}
}
