package webhookhttp

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// Receiver is the other end of deliveries, for trying webhooks and measuring them
// (`loyaltyctl webhooks listen`, the bench's delivery-lag scenario): it checks each
// delivery's signature with the Standard Webhooks reference library
// (webhooksig.Verify), answers 204 to a genuine one and 401 to any other, and tells
// OnDelivery about each. Set its fields before it serves; it is safe for concurrent
// deliveries.
type Receiver struct {
	Secret []byte
	// FailFirst answers 503 to the first FailFirst genuine attempts, to watch the
	// sender retry.
	FailFirst int
	// OnDelivery is called with every attempt, after its answer is decided and
	// before it is written (a caller that timestamps it sees the 2xx's time).
	OnDelivery func(Received)

	mu     sync.Mutex
	failed int
	seen   map[string]int // attempts by webhook-id
}

// Received is one attempt the receiver answered.
type Received struct {
	At     time.Time // when it was answered
	ID     string    // webhook-id: the event id, the same on every attempt
	Status int       // what the receiver answered
	// SignatureErr is why the signature was refused; nil when it verified. The
	// fields below are read from the body only when it did.
	SignatureErr error
	Attempt      int // how many times this webhook-id came, this one included
	Type         string
	EventTime    time.Time // the body's timestamp: the event's occurTime
	MemberID     string
	MemberSeq    int64
	// Data is the body's data object (with memberId and memberSeq in it).
	Data map[string]json.RawMessage
}

// maxDeliveryBody bounds what the receiver reads of a body.
const maxDeliveryBody = 1 << 20

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "deliveries are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxDeliveryBody))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	got := Received{ID: req.Header.Get("webhook-id"), Status: http.StatusNoContent}
	if got.SignatureErr = webhooksig.Verify(r.Secret, req.Header, body); got.SignatureErr != nil {
		got.Status = http.StatusUnauthorized
	} else {
		// Only a verified body is read: anything else may be anybody's.
		var b struct {
			Type      string                     `json:"type"`
			Timestamp time.Time                  `json:"timestamp"`
			Data      map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			got.Status = http.StatusBadRequest
		}
		got.Type, got.EventTime, got.Data = b.Type, b.Timestamp, b.Data
		_ = json.Unmarshal(b.Data["memberId"], &got.MemberID)
		_ = json.Unmarshal(b.Data["memberSeq"], &got.MemberSeq)
	}
	r.mu.Lock()
	if got.SignatureErr == nil {
		if r.seen == nil {
			r.seen = map[string]int{}
		}
		r.seen[got.ID]++
		got.Attempt = r.seen[got.ID]
		if got.Status == http.StatusNoContent && r.failed < r.FailFirst {
			r.failed++
			got.Status = http.StatusServiceUnavailable
		}
	}
	r.mu.Unlock()
	got.At = time.Now()
	if r.OnDelivery != nil {
		r.OnDelivery(got)
	}
	w.WriteHeader(got.Status)
}
