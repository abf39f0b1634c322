package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/ledger"
)

// model is the ledger's expected state, kept in memory.
type model struct {
	available map[string]int64
	held      map[string]int64
	holds     map[int64]modelHold
	entries   map[int64]modelEntry
}

type modelHold struct {
	member string
	points int64
	active bool
}

type modelEntry struct {
	member   string
	kind     ledger.Kind
	delta    int64 // change of available
	reversed bool
}

// Random operation sequences, checked step by step against the model: every
// success and refusal the model predicts, and every balance after each step.
func TestModelBasedRandomSequences(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			members := []string{"x", "y", "z"}
			svc, clock := newLedger(t, members...)
			ctx := context.Background()
			m := model{available: map[string]int64{}, held: map[string]int64{}, holds: map[int64]modelHold{}, entries: map[int64]modelEntry{}}
			r := rand.New(rand.NewPCG(seed, 99))
			var holdIDs, entryIDs []int64
			for step := 0; step < 300; step++ {
				mem := members[r.IntN(len(members))]
				id := fmt.Sprintf("s%d", step)
				pts := 1 + r.Int64N(60)
				var err error
				var desc string
				switch op := r.IntN(9); op {
				case 0, 1:
					desc = fmt.Sprintf("earn %d %s", pts, mem)
					var res ledger.EarnResult
					res, err = svc.Earn(ctx, actor, ledger.Earn{MemberID: mem, RequestID: id, Points: pts})
					if err == nil {
						m.available[mem] += pts
						m.entries[res.Entry.ID] = modelEntry{member: mem, kind: ledger.KindEarn, delta: pts}
						entryIDs = append(entryIDs, res.Entry.ID)
					}
				case 2:
					desc = fmt.Sprintf("redeem %d %s (has %d)", pts, mem, m.available[mem])
					var e ledger.Entry
					e, err = svc.Redeem(ctx, actor, ledger.Redeem{MemberID: mem, RequestID: id, Points: pts})
					want := m.available[mem] >= pts
					if (err == nil) != want || (err != nil && !errors.Is(err, ledger.ErrInsufficientPoints)) {
						t.Fatalf("step %d %s: err %v, model expects success=%v", step, desc, err, want)
					}
					if err == nil {
						m.available[mem] -= pts
						m.entries[e.ID] = modelEntry{member: mem, kind: ledger.KindRedeem, delta: -pts}
						entryIDs = append(entryIDs, e.ID)
					}
					err = nil
				case 3:
					desc = fmt.Sprintf("hold %d %s (has %d)", pts, mem, m.available[mem])
					var res ledger.HoldResult
					res, err = svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: mem, RequestID: id, Points: pts, TTL: time.Hour})
					want := m.available[mem] >= pts
					if (err == nil) != want {
						t.Fatalf("step %d %s: err %v, model expects success=%v", step, desc, err, want)
					}
					if err == nil {
						m.available[mem] -= pts
						m.held[mem] += pts
						m.holds[res.Hold.ID] = modelHold{member: mem, points: pts, active: true}
						holdIDs = append(holdIDs, res.Hold.ID)
					}
					err = nil
				case 4, 5:
					if len(holdIDs) == 0 {
						continue
					}
					hid := holdIDs[r.IntN(len(holdIDs))]
					h := m.holds[hid]
					capture := r.Int64N(h.points + 5) // sometimes too much
					desc = fmt.Sprintf("capture %d of hold %d (%+v)", capture, hid, h)
					var res ledger.HoldResult
					res, err = svc.CaptureHold(ctx, actor, ledger.CaptureHold{HoldID: hid, RequestID: id, Points: capture})
					full := capture
					if full == 0 {
						full = h.points
					}
					switch {
					case !h.active:
						if !errors.Is(err, ledger.ErrHoldNotActive) {
							t.Fatalf("step %d %s: err %v, want HOLD_NOT_ACTIVE", step, desc, err)
						}
					case full > h.points:
						if !errors.Is(err, ledger.ErrOverCapture) {
							t.Fatalf("step %d %s: err %v, want CAPTURE_EXCEEDS_HOLD", step, desc, err)
						}
					default:
						if err != nil {
							t.Fatalf("step %d %s: %v", step, desc, err)
						}
						m.held[h.member] -= h.points
						m.available[h.member] += h.points - full
						h.active = false
						m.holds[hid] = h
						m.entries[res.Entry.ID] = modelEntry{member: h.member, kind: ledger.KindHoldCapture, delta: h.points - full}
						entryIDs = append(entryIDs, res.Entry.ID)
					}
					err = nil
				case 6:
					if len(holdIDs) == 0 {
						continue
					}
					hid := holdIDs[r.IntN(len(holdIDs))]
					h := m.holds[hid]
					desc = fmt.Sprintf("void hold %d (%+v)", hid, h)
					_, err = svc.VoidHold(ctx, actor, ledger.VoidHold{HoldID: hid, RequestID: id})
					if !h.active {
						if !errors.Is(err, ledger.ErrHoldNotActive) {
							t.Fatalf("step %d %s: err %v, want HOLD_NOT_ACTIVE", step, desc, err)
						}
						err = nil
					} else if err == nil {
						m.held[h.member] -= h.points
						m.available[h.member] += h.points
						h.active = false
						m.holds[hid] = h
					}
				case 7:
					if len(entryIDs) == 0 {
						continue
					}
					eid := entryIDs[r.IntN(len(entryIDs))]
					me := m.entries[eid]
					desc = fmt.Sprintf("reverse entry %d (%+v, member has %d)", eid, me, m.available[me.member])
					_, err = svc.Reverse(ctx, actor, ledger.Reverse{EntryID: eid, RequestID: id, Reason: "model"})
					switch {
					case me.reversed:
						if !errors.Is(err, ledger.ErrAlreadyReversed) {
							t.Fatalf("step %d %s: err %v, want ALREADY_REVERSED", step, desc, err)
						}
					case me.kind != ledger.KindHoldCapture && m.available[me.member]-me.delta < 0:
						if !errors.Is(err, ledger.ErrInsufficientPoints) {
							t.Fatalf("step %d %s: err %v, want INSUFFICIENT_POINTS", step, desc, err)
						}
					default:
						if err != nil {
							t.Fatalf("step %d %s: %v", step, desc, err)
						}
						if me.kind == ledger.KindHoldCapture {
							// A capture's reversal gives back what it redeemed.
							m.available[me.member] += capturedOf(t, svc, eid)
						} else {
							m.available[me.member] -= me.delta
						}
						me.reversed = true
						m.entries[eid] = me
					}
					err = nil
				case 8:
					// Time passes and holds may expire: the model releases them too.
					clock.Advance(20 * time.Minute)
					desc = "expire holds"
					if _, err = svc.ExpireHolds(ctx, 100); err == nil {
						for hid, h := range m.holds {
							hold, gerr := svc.GetHold(ctx, hid)
							if gerr != nil {
								t.Fatal(gerr)
							}
							if h.active && hold.Status == ledger.HoldExpired {
								m.held[h.member] -= h.points
								m.available[h.member] += h.points
								h.active = false
								m.holds[hid] = h
							}
						}
					}
				}
				if err != nil {
					t.Fatalf("step %d %s: %v", step, desc, err)
				}
				for _, mem := range members {
					b := balanceOf(t, svc, mem)
					if b.Available != m.available[mem] || b.Held != m.held[mem] {
						t.Fatalf("step %d after %s: %s has %+v, model says available %d held %d", step, desc, mem, b, m.available[mem], m.held[mem])
					}
				}
			}
			mustVerify(t, svc)
		})
	}
}

// capturedOf is how many points a capture entry redeemed.
func capturedOf(t *testing.T, svc *ledger.Service, entryID int64) int64 {
	t.Helper()
	a, err := svc.ListActivity(context.Background(), ledger.ListActivity{MemberID: memberOfEntry(t, svc, entryID), PageSize: 200, Kinds: []string{"HOLD_CAPTURE"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range a.Entries {
		if e.ID == entryID {
			return e.Delta(ledger.AccountRedeemed)
		}
	}
	t.Fatalf("capture entry %d not found", entryID)
	return 0
}

func memberOfEntry(t *testing.T, svc *ledger.Service, entryID int64) string {
	t.Helper()
	e, err := svc.Entry(context.Background(), entryID)
	if err != nil {
		t.Fatal(err)
	}
	return e.MemberID
}
