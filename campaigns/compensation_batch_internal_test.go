package campaigns

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Table test of the once-per-(order, type) and idempotency rule of a compensation
// claim (claims.recordedOutcome), without a database.
func TestRecordedOutcome(t *testing.T) {
	outcome := func(requestID string) []byte {
		b, _ := json.Marshal(CompensationResult{RequestID: requestID, Grants: []CompensationGrant{{CampaignID: "c", Points: 100}}})
		return b
	}
	fp := []byte("fp-1")
	recorded := []campaignsdb.AfterSalesEvent{
		{MemberID: "m", OrderID: "o1", EventType: "LATE_DELIVERY", RequestID: "r1", Fingerprint: fp, Outcome: outcome("r1")},
		{MemberID: "n", OrderID: "o2", EventType: "LATE_DELIVERY", RequestID: "r2", Fingerprint: fp, Outcome: outcome("r2")},
	}
	claim := func(member, order, typ, request string, fingerprint []byte) ledger.CompensationClaim {
		return ledger.CompensationClaim{MemberID: member, OrderID: order, EventType: typ, RequestID: request, Fingerprint: fingerprint}
	}
	for _, tc := range []struct {
		name      string
		claim     ledger.CompensationClaim
		found     bool
		answerOf  string // the request id of the outcome answered
		conflicts bool
	}{
		{"the same event again", claim("m", "o1", "LATE_DELIVERY", "r1", fp), true, "r1", false},
		{"the same order and type under a new request", claim("m", "o1", "LATE_DELIVERY", "r9", []byte("fp-9")), true, "r1", false},
		{"another type of the same order", claim("m", "o1", "DAMAGED_ITEM", "r3", []byte("fp-3")), false, "", false},
		{"the request id of another event, same body", claim("m", "o5", "LATE_DELIVERY", "r1", fp), true, "r1", false},
		{"the request id of another event, another body", claim("m", "o5", "LATE_DELIVERY", "r1", []byte("fp-5")), true, "", true},
		{"another member's order and request", claim("m", "o2", "LATE_DELIVERY", "r2", fp), false, "", false},
		{"nothing recorded", claim("z", "o1", "LATE_DELIVERY", "r1", fp), false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &claims{recorded: recorded}
			out, found, err := cs.recordedOutcome(tc.claim)
			if found != tc.found {
				t.Fatalf("found %v, want %v", found, tc.found)
			}
			if tc.conflicts {
				if !errors.Is(err, idempotency.ErrConflict) {
					t.Fatalf("err %v, want an idempotency conflict", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found && (out.RequestID != tc.answerOf || !out.Replayed || len(out.Grants) != 1) {
				t.Fatalf("answered %+v, want the outcome of %s, replayed", out, tc.answerOf)
			}
		})
	}
}
