package webhookhttp_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// FailFirst fails genuine attempts only, and attempts are counted per webhook-id.
func TestReceiverFailsTheFirstGenuineAttemptsAndCountsRepeats(t *testing.T) {
	secret := webhooksig.NewSecret()
	var got []webhookhttp.Received
	r := &webhookhttp.Receiver{Secret: secret, FailFirst: 1, OnDelivery: func(d webhookhttp.Received) { got = append(got, d) }}
	body := []byte(`{"type":"points.earned","timestamp":"2026-12-01T10:00:00Z","data":{"memberId":"alice","memberSeq":3}}`)
	post := func(id string, key []byte, body []byte) int {
		ts := time.Now().Unix()
		req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", webhooksig.Sign(key, id, ts, body))
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	for i, c := range []struct {
		id   string
		key  []byte
		want int
	}{
		{"e1", webhooksig.NewSecret(), http.StatusUnauthorized}, // not genuine: not failed on purpose
		{"e1", secret, http.StatusServiceUnavailable},
		{"e1", secret, http.StatusNoContent},
		{"e2", secret, http.StatusNoContent},
	} {
		if code := post(c.id, c.key, body); code != c.want {
			t.Errorf("attempt %d (%s): %d, want %d", i+1, c.id, code, c.want)
		}
	}
	if len(got) != 4 || got[0].SignatureErr == nil || got[0].MemberID != "" || got[1].Attempt != 1 || got[2].Attempt != 2 ||
		got[3].Attempt != 1 || got[2].MemberID != "alice" || got[2].MemberSeq != 3 || got[2].Type != "points.earned" || got[2].EventTime.IsZero() {
		t.Errorf("received %+v", got)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hooks", nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d %v", w.Code, w.Header())
	}
	if code := post("e3", secret, []byte(`not json`)); code != http.StatusBadRequest {
		t.Errorf("a genuine body that is not JSON: %d", code)
	}
}
