package ledger

import (
	"fmt"
	"testing"
)

func TestSplitAtMakesDisjointSharesUpToTheLastMember(t *testing.T) {
	for _, c := range []struct {
		bounds []string
		last   string
		want   string
	}{
		{nil, "m9", `[(,m9]]`},
		{[]string{"m4"}, "m9", `[(,m4] (m4,m9]]`},
		{[]string{"m3", "m6"}, "m9", `[(,m3] (m3,m6] (m6,m9]]`},
		// One member owns every lot: one share.
		{[]string{"m9", "m9"}, "m9", `[(,m9]]`},
		{[]string{"m3", "m3"}, "m9", `[(,m3] (m3,m9]]`},
		// A bound past the last member (a lot opened after it was read): the last
		// share ends at the last member all the same.
		{[]string{"m3", "z1"}, "m9", `[(,m3] (m3,m9]]`},
	} {
		var got []string
		for _, s := range splitAt(c.bounds, c.last) {
			got = append(got, fmt.Sprintf("(%s,%s]", s.after, s.upto))
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("splitAt(%v, %s) = %v, want %s", c.bounds, c.last, got, c.want)
		}
	}
}
