package importfile

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

// fakeLedger imports whatever it is given, in batches it counts.
type fakeLedger struct{ batches, rows int }

func (f *fakeLedger) Open(_ context.Context, b []ledger.Opening) ([]ledger.OpeningResult, error) {
	f.batches++
	f.rows += len(b)
	out := make([]ledger.OpeningResult, len(b))
	for i := range out {
		out[i].Status = ledger.OpeningImported
	}
	return out, nil
}

func (f *fakeLedger) CheckOpenings(ctx context.Context, b []ledger.Opening) ([]ledger.OpeningResult, error) {
	return f.Open(ctx, b)
}

func TestRunReportsEveryBadRowWithItsLineAndColumn(t *testing.T) {
	file := "memberId,openingBalance,openingExpiry,joinTime\n" +
		"a,1,2030-01-01,\n" + // 2
		"b,x,,\n" + // 3: openingBalance
		"c,1,31/12/2030,\n" + // 4: openingExpiry
		"d,1\n" + // 5: too few fields
		"e,\"1,,\n" + // 6: bad quote (to the end of the file)
		""
	var got []string
	l := &fakeLedger{}
	rep, err := Run(context.Background(), strings.NewReader(file), l, Options{BatchSize: 2}, func(e RowError) error {
		got = append(got, fmt.Sprintf("%d:%s", e.Line, e.Column))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[3:openingBalance 4:openingExpiry 5: 6:]" || rep.Rows != 5 || rep.Imported != 1 || rep.Failed != 4 || l.rows != 1 {
		t.Fatalf("errors %v, report %+v, ledger %+v", got, rep, l)
	}
}

func TestRunRefusesABadHeaderBeforeAnyRow(t *testing.T) {
	for file, reason := range map[string]string{
		"":                    "empty",
		"memberId,points\n":   "points",
		"displayName\nx\n":    "memberId column is required",
		"memberId,memberId\n": "named twice",
	} {
		l := &fakeLedger{}
		_, err := Run(context.Background(), strings.NewReader(file), l, Options{}, func(RowError) error { return nil })
		p, ok := problem.As(err)
		if !ok || len(p.Fields) == 0 || p.Fields[0].Field != "header" || !strings.Contains(p.Fields[0].Description, reason) || l.batches != 0 {
			t.Errorf("%q: %v", file, err)
		}
	}
}

func TestADateAsAnExpiryIsUsableThroughThatDay(t *testing.T) {
	got, err := parseTime("2027-12-31", true)
	if err != nil || !got.Equal(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%v %v", got, err)
	}
	got, err = parseTime("2027-12-31", false)
	if err != nil || !got.Equal(time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%v %v", got, err)
	}
}
