package pagetoken_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

var key = bytes.Repeat([]byte("k"), pagetoken.MinKeyBytes)

func codec(t testing.TB) *pagetoken.Codec {
	t.Helper()
	c, err := pagetoken.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRefusesAShortKey(t *testing.T) {
	if _, err := pagetoken.New(key[:pagetoken.MinKeyBytes-1]); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
}

func TestATokenRoundTripsForItsQueryOnly(t *testing.T) {
	c := codec(t)
	q := pagetoken.For("activity", "alice", pagetoken.Set([]string{"EARN", "REDEEM"}), "", "")
	tok := c.EncodeID(q, 1<<40)
	if id, err := c.DecodeID(q, tok); err != nil || id != 1<<40 {
		t.Fatalf("round trip: %d, %v", id, err)
	}
	if id, err := c.DecodeID(pagetoken.For("activity", "alice", pagetoken.Set([]string{"REDEEM", "EARN"}), "", ""), tok); err != nil || id != 1<<40 {
		t.Fatalf("the same kinds in another order: %d, %v", id, err)
	}
	others := map[string]pagetoken.Query{
		"another list":          pagetoken.For("approvals", "alice", pagetoken.Set([]string{"EARN", "REDEEM"}), "", ""),
		"another member":        pagetoken.For("activity", "bob", pagetoken.Set([]string{"EARN", "REDEEM"}), "", ""),
		"fewer kinds":           pagetoken.For("activity", "alice", pagetoken.Set([]string{"EARN"}), "", ""),
		"a start time":          pagetoken.For("activity", "alice", pagetoken.Set([]string{"EARN", "REDEEM"}), pagetoken.Time(time.Unix(1, 0)), ""),
		"a filter moved along":  pagetoken.For("activity", "alice", pagetoken.Set([]string{"EARN", "REDEEM"}), "", pagetoken.Time(time.Unix(1, 0))),
		"one filter fewer":      pagetoken.For("activity", "alice", pagetoken.Set([]string{"EARN", "REDEEM"}), ""),
		"fields joined":         pagetoken.For("activityalice"),
		"another key (replica)": pagetoken.For("activity", "alice", pagetoken.Set([]string{"EARN", "REDEEM"}), "", ""),
	}
	for name, other := range others {
		d := c
		if strings.HasPrefix(name, "another key") {
			d = pagetoken.Ephemeral()
		}
		if _, err := d.DecodeID(other, tok); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestAlteredTokensAreRefused(t *testing.T) {
	c := codec(t)
	q := pagetoken.For("coupons", "alice")
	tok := c.Encode(q, "2026-11-11T00:00:00Z_KFH1-SZ4A-SX21-WB2C")
	for i := range tok {
		for _, ch := range "A_-z0" {
			altered := tok[:i] + string(ch) + tok[i+1:]
			if altered == tok {
				continue
			}
			if _, err := c.Decode(q, altered); !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("%q (char %d altered) accepted: %v", altered, i, err)
			}
		}
	}
	for _, bad := range []string{"", "!!", "eA", "ZXg", tok[:len(tok)-1], tok + "A", tok[:10] + "\n" + tok[10:], "=" + tok, c.EncodeID(q, 7)[:4]} {
		if _, err := c.Decode(q, bad); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
	if _, err := c.DecodeID(q, tok); !errors.Is(err, pagetoken.ErrInvalid) {
		t.Errorf("a genuine token whose position is no id, read as an id: %v", err)
	}
}

func TestErrInvalidNamesPageToken(t *testing.T) {
	p, ok := problem.As(pagetoken.ErrInvalid)
	if !ok || p.Kind != problem.Invalid || p.Reason != "INVALID_PAGE_TOKEN" || len(p.Fields) != 1 || p.Fields[0].Field != "pageToken" {
		t.Fatalf("ErrInvalid = %+v", p)
	}
}

func TestTimeAndSetValues(t *testing.T) {
	at := time.Date(2026, 11, 11, 8, 0, 0, 5000, time.FixedZone("CST", 8*3600))
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"no time is the empty value", pagetoken.Time(time.Time{}), "", true},
		{"the same instant in two zones", pagetoken.Time(at), pagetoken.Time(at.UTC()), true},
		{"another instant", pagetoken.Time(at), pagetoken.Time(at.Add(time.Microsecond)), false},
		{"a set in any order", pagetoken.Set([]string{"b", "a"}), pagetoken.Set([]string{"a", "b"}), true},
		{"no set is the empty value", pagetoken.Set(nil), "", true},
		{"a set of one empty value is not the empty set", pagetoken.Set([]string{""}), "", false},
		{"joined values are another set", pagetoken.Set([]string{"ab"}), pagetoken.Set([]string{"a", "b"}), false},
	}
	for _, tc := range cases {
		if (tc.a == tc.b) != tc.same {
			t.Errorf("%s: %q vs %q", tc.name, tc.a, tc.b)
		}
	}
}
