package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events/internal/eventsdb"
	"github.com/loyalty-engine/loyalty/internal/database"
)

// Event is an event to write.
type Event struct {
	Type Type
	// OccurTime is when the change happened, in business time.
	OccurTime time.Time
	// MemberID is the member the change is about; "" for events of no member (a
	// campaign's status, a webhook endpoint disabled). A member's events are numbered
	// 1, 2, 3, ... (member_seq) in the order they are written.
	MemberID string
	// Data is the type's data (the structs in catalog.go), marshalled to JSON. A value
	// that does not marshal is a programming error: Queue and AppendTx panic on it.
	Data any
}

// Queue adds to b the one statement that writes evs, in order: it numbers each
// member's events (bumping the member's counter row, which it keeps locked until the
// transaction ends) and inserts them. The ledger calls it in the write step of its
// batch, while it holds its members' row locks, so that the events commit with the
// changes or not at all. The statement has no callback: pgx reads its result in
// its turn (at the latest when the batch's results are closed), and its error, if
// any, is the batch's.
//
// Write events last in a transaction, after the domain's own locks: the counter
// rows stay locked from then until commit, and writers that all take them last
// cannot deadlock on them.
func Queue(b *pgx.Batch, evs []Event) {
	if len(evs) == 0 {
		return
	}
	sql, args := database.StatementOf(func(db *database.Capture) error {
		return eventsdb.New().AppendEvents(context.Background(), db, params(evs))
	})
	b.Queue(sql, args...)
}

// AppendTx writes evs in tx, for callers that own a transaction; like Queue, last
// in the transaction.
func AppendTx(ctx context.Context, tx pgx.Tx, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := eventsdb.New().AppendEvents(ctx, tx, params(evs)); err != nil {
		return fmt.Errorf("write %d events: %w", len(evs), err)
	}
	return nil
}

func params(evs []Event) eventsdb.AppendEventsParams {
	p := eventsdb.AppendEventsParams{
		EventIds: make([]string, len(evs)), Types: make([]string, len(evs)), OccurTimes: make([]time.Time, len(evs)),
		MemberIds: make([]string, len(evs)), Datas: make([]string, len(evs)),
	}
	for i, ev := range evs {
		if !ev.Type.Valid() {
			panic(fmt.Sprintf("events: type %q is not in the catalogue", ev.Type))
		}
		data := []byte("{}")
		if ev.Data != nil {
			var err error
			if data, err = json.Marshal(ev.Data); err != nil {
				panic(fmt.Sprintf("events: data of %s does not marshal: %v", ev.Type, err))
			}
		}
		p.EventIds[i], p.Types[i], p.OccurTimes[i], p.MemberIds[i], p.Datas[i] = newEventID(), string(ev.Type), ev.OccurTime, ev.MemberID, string(data)
	}
	return p
}

// newEventID is a random (version 4) UUID, an event's event_id: drawn here rather
// than by the column's default, gen_random_uuid(), which costs PostgreSQL several
// microseconds an event (a bulk credit's chunk writes thousands).
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
