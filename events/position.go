package events

import (
	"strconv"
	"strings"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// Position is a place in the feed: an event's feed_xid and id, the order of the
// feed. The zero Position is the start, before every event. Callers treat its
// string form as opaque.
type Position struct {
	Xid uint64
	ID  int64
}

// IsStart tells whether p is the start of the feed.
func (p Position) IsStart() bool { return p == Position{} }

// String is the token of p: "" for the start, else the two numbers in base 36.
func (p Position) String() string {
	if p.IsStart() {
		return ""
	}
	return strconv.FormatUint(p.Xid, 36) + "-" + strconv.FormatInt(p.ID, 36)
}

// Less orders positions as the feed does.
func (p Position) Less(q Position) bool {
	return p.Xid < q.Xid || p.Xid == q.Xid && p.ID < q.ID
}

// ErrInvalidPosition is the answer to a position token the feed did not give.
var ErrInvalidPosition = &problem.Error{
	Kind: problem.Invalid, Reason: "INVALID_POSITION", Message: "invalid position",
	Fields: []problem.FieldViolation{{Field: "afterPosition", Description: "is not a position the feed gave (omit it to start from the beginning)"}},
}

// ParsePosition reads a token String gave; "" is the start.
func ParsePosition(s string) (Position, error) {
	if s == "" {
		return Position{}, nil
	}
	x, id, ok := strings.Cut(s, "-")
	if !ok {
		return Position{}, ErrInvalidPosition
	}
	xid, err1 := strconv.ParseUint(x, 36, 64)
	n, err2 := strconv.ParseInt(id, 36, 64)
	p := Position{Xid: xid, ID: n}
	// One spelling per position: no signs, no leading zeros, no upper case.
	if err1 != nil || err2 != nil || n < 0 || p.String() != s {
		return Position{}, ErrInvalidPosition
	}
	return p, nil
}
