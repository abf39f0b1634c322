package validation_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var shopIDs = []struct {
	id string
	ok bool
}{
	{"alice", true},
	{"A-1_b.c", true},
	{".hidden", true},
	{"a..b", true},
	{strings.Repeat("x", 64), true},
	{"", false},
	{".", false},
	{"..", false},
	{"...", false},
	{"alice:earn", false},
	{"a b", false},
	{"a/b", false},
	{"a\x00b", false},
	{"ä", false},
	{strings.Repeat("x", 65), false},
}

func TestShopID(t *testing.T) {
	for _, tc := range shopIDs {
		if got := validation.ShopID(tc.id); got != tc.ok {
			t.Errorf("ShopID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

// The members table's CHECK constraint is a second copy of ShopID: the two must
// agree on every case.
func TestTheMembersConstraintAgreesWithShopID(t *testing.T) {
	pool := dbtest.NewPool(t)
	for _, tc := range shopIDs {
		if strings.ContainsRune(tc.id, 0) {
			continue // PostgreSQL text cannot hold NUL at all
		}
		_, err := pool.Exec(context.Background(), `INSERT INTO members (member_id) VALUES ($1)`, tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("insert member %q: %v; ShopID says %v", tc.id, err, tc.ok)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"", true},
		{"Dana Li", true},
		{"Zoë 北京 🎁", true},
		{"line one\nline two\r\n\tindented", true},
		{"nul\x00inside", false},
		{"\x00", false},
		{"bell\x07", false},
		{"escape\x1b[31m", false},
		{"bad \xff byte", false},
		{"北京\x01", false},
		{"truncated \xe5\x8c", false},
	} {
		if got := validation.Text(tc.s); got != tc.ok {
			t.Errorf("Text(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

type line struct {
	Note string `json:"note"`
}

type command struct {
	MemberID string            `json:"memberId" validate:"required,shopid"`
	Reason   string            `json:"reason"`
	Memo     *string           `json:"memo"`
	Lines    []line            `json:"lines"`
	Labels   map[string]string `json:"labels"`
	Nested   struct {
		Rule string `json:"rule"`
	} `json:"nested"`
	Raw    []byte `json:"raw"`
	hidden string
}

func TestStructRefusesControlCharactersInEveryString(t *testing.T) {
	memo := "fine\nmemo"
	good := command{MemberID: "dana", Reason: "late\tdelivery", Memo: &memo, Lines: []line{{"ok"}},
		Labels: map[string]string{"k": "v"}, Raw: []byte{0, 1, 2}, hidden: "\x00"}
	if err := validation.Struct(good); err != nil {
		t.Fatalf("good command refused: %v", err)
	}
	bad := "memo\x00"
	cmd := good
	cmd.MemberID = "da\x00na"
	cmd.Reason = "re\x00ason"
	cmd.Memo = &bad
	cmd.Lines = []line{{"ok"}, {"n\x00te"}}
	cmd.Labels = map[string]string{"gold": "\xff"}
	cmd.Nested.Rule = "member.tier == 'gold'\x00"
	err := validation.Struct(cmd)
	var p *problem.Error
	if !errors.As(err, &p) || p.Kind != problem.Invalid {
		t.Fatalf("got %v, want an invalid-argument problem", err)
	}
	got := map[string]string{}
	for _, f := range p.Fields {
		if _, dup := got[f.Field]; dup {
			t.Errorf("field %s named twice", f.Field)
		}
		got[f.Field] = f.Description
	}
	for _, field := range []string{"reason", "memo", "lines[1].note", "labels[gold]", "nested.rule"} {
		if got[field] != validation.TextDescription {
			t.Errorf("%s: %q, want the text rule", field, got[field])
		}
	}
	// memberId breaks its own pattern first; it is named once, by that rule.
	if d := got["memberId"]; d == "" || d == validation.TextDescription {
		t.Errorf("memberId: %q, want the shop id rule", d)
	}
	if len(got) != 6 {
		t.Errorf("fields %v, want exactly 6", got)
	}
}
