package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Racing commands of several members through the group commit: every entry has
// exactly one event, written in the entry's transaction; each member's events are
// numbered 1, 2, 3, ... without a gap, in the order of the member's entries, after
// its member.enrolled; and the feed gives them all once.
func TestEveryEntryHasItsEventInItsTransaction(t *testing.T) {
	ctx := context.Background()
	const members, perMember = 6, 12
	var ids []string
	for m := range members {
		ids = append(ids, fmt.Sprintf("ev-%d", m))
	}
	svc, pool := newLedgerOnPool(t, fakeclock.At(time.Now()), ids...)
	var wg sync.WaitGroup
	for m := range members {
		member := fmt.Sprintf("ev-%d", m)
		for i := range perMember {
			wg.Go(func() {
				id := fmt.Sprintf("%s-%d", member, i)
				var err error
				switch i % 4 {
				case 0, 1:
					_, err = svc.Earn(ctx, actor, ledger.Earn{MemberID: member, RequestID: id, Points: 20})
				case 2:
					_, err = svc.Redeem(ctx, actor, ledger.Redeem{MemberID: member, RequestID: id, Points: 15})
				default:
					var h ledger.HoldResult
					if h, err = svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: member, RequestID: id, Points: 5, TTL: time.Hour}); err == nil {
						_, err = svc.VoidHold(ctx, actor, ledger.VoidHold{HoldID: h.Hold.ID, RequestID: id + "-void"})
					}
				}
				if err != nil && !errors.Is(err, ledger.ErrInsufficientPoints) {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()

	var entries, withEvent, sameTx, eventsOfEntries int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM entries),
		(SELECT count(*) FROM entries e WHERE (SELECT count(*) FROM events v WHERE v.data->>'entryId' = e.entry_id::text) = 1),
		(SELECT count(*) FROM entries e WHERE EXISTS (SELECT 1 FROM events v WHERE v.data->>'entryId' = e.entry_id::text
		                                           AND v.xmin::text = e.xmin::text AND v.member_id = e.member_id)),
		(SELECT count(*) FROM events WHERE data ? 'entryId')`).Scan(&entries, &withEvent, &sameTx, &eventsOfEntries); err != nil {
		t.Fatal(err)
	}
	if entries == 0 || withEvent != entries || sameTx != entries || eventsOfEntries != entries {
		t.Fatalf("%d entries: %d with one event, %d in the entry's transaction; %d entry events", entries, withEvent, sameTx, eventsOfEntries)
	}

	feed, err := events.NewStore(pool).List(ctx, events.Filter{Limit: events.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	lastEntry := map[string]int64{}
	for _, ev := range feed {
		if ev.MemberSeq != seen[ev.MemberID]+1 {
			t.Fatalf("%s: event %d of %s after %d", ev.EventID, ev.MemberSeq, ev.MemberID, seen[ev.MemberID])
		}
		seen[ev.MemberID] = ev.MemberSeq
		if ev.MemberSeq == 1 && ev.Type != events.MemberEnrolled {
			t.Fatalf("%s's first event is %s, want %s", ev.MemberID, ev.Type, events.MemberEnrolled)
		}
		if ev.Type == events.MemberEnrolled {
			continue
		}
		var entryID int64
		if err := pool.QueryRow(ctx, `SELECT (data->>'entryId')::bigint FROM events WHERE event_id = $1::uuid`, ev.EventID).Scan(&entryID); err != nil {
			t.Fatal(err)
		}
		if prev := lastEntry[ev.MemberID]; entryID <= prev {
			t.Fatalf("%s: entry %d's event after entry %d's", ev.MemberID, entryID, prev)
		}
		lastEntry[ev.MemberID] = entryID
	}
	if len(feed) != entries+members {
		t.Fatalf("the feed has %d events, want %d entries and %d enrolments", len(feed), entries, members)
	}
}
