package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/loyalty-engine/loyalty/events/internal/eventsdb"
)

// Stored is an event as the feed gives it.
type Stored struct {
	Position  Position
	EventID   string
	Type      Type
	OccurTime time.Time
	MemberID  string // "" for events of no member
	MemberSeq int64  // 0 for events of no member
	Data      json.RawMessage
}

// Filter selects a page of the feed.
type Filter struct {
	After    Position
	Types    []Type // none: every type
	MemberID string // "": every member
	// Limit is the page size; 0 or less: DefaultPageSize, more than MaxPageSize:
	// MaxPageSize.
	Limit int
}

// Page sizes of the feed.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

func errUnknownType(field string, t Type) error {
	return invalid("UNKNOWN_EVENT_TYPE", field, fmt.Sprintf("names %q, which is no event type (docs/EVENTS.md lists them)", t))
}

// CheckTypes refuses a type outside the catalogue; field names the request field.
func CheckTypes(field string, types []Type) error {
	for _, t := range types {
		if !t.Valid() {
			return errUnknownType(field, t)
		}
	}
	return nil
}

// List is the page of the feed f selects: the events after f.After, in feed order,
// that every transaction which could still write before them has ended. A consumer
// that resumes after the last position it processed sees every event once.
func (s *Store) List(ctx context.Context, f Filter) ([]Stored, error) {
	return list(ctx, s.pool, f)
}

func list(ctx context.Context, db eventsdb.DBTX, f Filter) ([]Stored, error) {
	if err := CheckTypes("types", f.Types); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	types := make([]string, len(f.Types))
	for i, t := range f.Types {
		types[i] = string(t)
	}
	arg := eventsdb.ListEventsParams{AfterXid: strconv.FormatUint(f.After.Xid, 10), AfterID: f.After.ID, Types: types, PageSize: int32(limit)}
	var rows []eventsdb.ListEventsRow
	var err error
	if f.MemberID == "" {
		rows, err = eventsdb.New().ListEvents(ctx, db, arg)
	} else {
		var member []eventsdb.ListMemberEventsRow
		member, err = eventsdb.New().ListMemberEvents(ctx, db, eventsdb.ListMemberEventsParams{
			MemberID: f.MemberID, AfterXid: arg.AfterXid, AfterID: arg.AfterID, Types: types, PageSize: arg.PageSize,
		})
		for _, r := range member {
			rows = append(rows, eventsdb.ListEventsRow(r))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out := make([]Stored, len(rows))
	for i, r := range rows {
		xid, err := strconv.ParseUint(r.FeedXid, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read events: feed_xid %q: %w", r.FeedXid, err)
		}
		out[i] = Stored{
			Position: Position{Xid: xid, ID: r.ID}, EventID: r.EventID, Type: Type(r.Type),
			OccurTime: r.OccurTime, MemberID: r.MemberID, MemberSeq: r.MemberSeq, Data: r.Data,
		}
	}
	return out, nil
}

// PositionAt is where a replay from a time starts: just before the first event in
// feed order that occurred at or after t (the end of the feed's written events, or
// the start, when none did). Events appear in the order they committed, roughly,
// not by occurTime: an event after this position that occurred earlier than t is
// replayed too, and none from t on is skipped.
func (s *Store) PositionAt(ctx context.Context, t time.Time) (Position, error) {
	return positionAt(ctx, s.pool, t)
}

func positionAt(ctx context.Context, db eventsdb.DBTX, t time.Time) (Position, error) {
	r, err := eventsdb.New().PositionBefore(ctx, db, t)
	if err != nil {
		return Position{}, fmt.Errorf("find the position at %s: %w", t, err)
	}
	if r.FeedXid == "" {
		// Nothing occurred since t: the replay starts at the end of what is written.
		return lastPosition(ctx, db)
	}
	xid, err := strconv.ParseUint(r.FeedXid, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("position at %s: feed_xid %q: %w", t, r.FeedXid, err)
	}
	// Just before that event: the same xid, the id before. ids are unique, so no
	// other event sits between.
	return Position{Xid: xid, ID: r.ID - 1}, nil
}

func lastPosition(ctx context.Context, db eventsdb.DBTX) (Position, error) {
	r, err := eventsdb.New().LastPosition(ctx, db)
	if err != nil {
		return Position{}, fmt.Errorf("find the last position: %w", err)
	}
	if r.FeedXid == "" {
		return Position{}, nil
	}
	xid, err := strconv.ParseUint(r.FeedXid, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("last position: feed_xid %q: %w", r.FeedXid, err)
	}
	return Position{Xid: xid, ID: r.ID}, nil
}
