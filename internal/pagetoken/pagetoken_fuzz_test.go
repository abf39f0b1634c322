package pagetoken_test

import (
	"errors"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/pagetoken"
)

// FuzzPageToken: Decode never panics, accepts only what Encode gave for the same
// query (one spelling), and a token of one query is refused by any other.
func FuzzPageToken(f *testing.F) {
	c := codec(f)
	f.Add("activity", "alice", "42", "")
	f.Add("coupons", "alice", "2026-11-11T00:00:00Z_KFH1-SZ4A-SX21-WB2C", "NDLjQ3ZqoG8vSJ4_ixPD")
	f.Add("approvals", "", "", "\n")
	f.Add("tierHistory", "a\x00b", "\xff\xfe", "ZXg")
	f.Add("campaigns", "ACTIVE", "-9223372036854775808", "=====")
	f.Fuzz(func(t *testing.T, list, filter, pos, tok string) {
		q := pagetoken.For(list, filter)
		if got, err := c.Decode(q, tok); err == nil {
			if again := c.Encode(q, got); again != tok {
				t.Fatalf("accepted %q as %q, but Encode gives %q", tok, got, again)
			}
		} else if !errors.Is(err, pagetoken.ErrInvalid) {
			t.Fatalf("Decode error %v, want ErrInvalid", err)
		}
		if id, err := c.DecodeID(q, tok); err == nil && c.EncodeID(q, id) != tok {
			t.Fatalf("accepted %q as id %d, but EncodeID gives %q", tok, id, c.EncodeID(q, id))
		}
		own := c.Encode(q, pos)
		if got, err := c.Decode(q, own); err != nil || got != pos {
			t.Fatalf("round trip of %q: %q, %v", pos, got, err)
		}
		if _, err := c.Decode(pagetoken.For(list, filter, ""), own); err == nil {
			t.Fatalf("token of %q accepted with one more filter", pos)
		}
		if _, err := c.Decode(pagetoken.For(list+filter), own); err == nil {
			t.Fatalf("token of %q accepted with the fields joined", pos)
		}
	})
}
