package audit

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestQueryValidation(t *testing.T) {
	day := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		q      Query
		fields []string
	}{
		{"empty", Query{}, nil},
		{"every filter", Query{KeyID: "key_1", MemberID: "m", Method: "/loyalty.v1.PointsService/Earn", Start: day, End: day.Add(time.Hour), PageSize: MaxPageSize}, nil},
		{"only a start", Query{Start: day}, nil},
		{"end before start", Query{Start: day, End: day.Add(-time.Second)}, []string{"endTime"}},
		{"end at start", Query{Start: day, End: day}, []string{"endTime"}},
		{"short method name", Query{Method: "Earn"}, []string{"method"}},
		{"REST path as method", Query{Method: "/v1/members/x:earn"}, []string{"method"}},
		{"page too large", Query{PageSize: MaxPageSize + 1}, []string{"pageSize"}},
		{"negative page", Query{PageSize: -1, Method: "x"}, []string{"method", "pageSize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.validate()
			var got []string
			if p, ok := problem.As(err); ok {
				for _, f := range p.Fields {
					got = append(got, f.Field)
				}
			} else if err != nil {
				t.Fatalf("undeclared error %v", err)
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("fields %v, want %v", got, tc.fields)
			}
			for i := range got {
				if got[i] != tc.fields[i] {
					t.Fatalf("fields %v, want %v", got, tc.fields)
				}
			}
		})
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("a", MaxText+10)
	wide := strings.Repeat("é", MaxText) // 2 bytes each
	for _, tc := range []struct{ in, want string }{
		{"members/alice", "members/alice"},
		{"", ""},
		{"a\x00b", "a\uFFFDb"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{strings.Repeat("a", MaxText), strings.Repeat("a", MaxText)},
		{long, strings.Repeat("a", MaxText-len("…")) + "…"},
		{wide, strings.Repeat("é", (MaxText-len("…"))/2) + "…"},
	} {
		got := Clean(tc.in)
		if got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > MaxText || !utf8.ValidString(got) || strings.Contains(got, "\x00") {
			t.Errorf("Clean(%q) = %q: too long, invalid or with NUL", tc.in, got)
		}
	}
}
