package webhooksig_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// The example of the Standard Webhooks specification (its reference libraries'
// test vector): the same secret, id, timestamp and body give the same signature.
func TestSignMatchesTheSpecificationsExample(t *testing.T) {
	secret, err := webhooksig.Parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhooksig.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestHeaderSignsWithEverySecret(t *testing.T) {
	a, b := webhooksig.NewSecret(), webhooksig.NewSecret()
	h := webhooksig.Header([][]byte{a, b}, "id", 1, []byte("{}"))
	if h != webhooksig.Sign(a, "id", 1, []byte("{}"))+" "+webhooksig.Sign(b, "id", 1, []byte("{}")) {
		t.Fatalf("header = %s", h)
	}
}

func TestFormatAndParse(t *testing.T) {
	s := webhooksig.NewSecret()
	got, err := webhooksig.Parse(webhooksig.Format(s))
	if err != nil || !bytes.Equal(got, s) {
		t.Fatalf("round trip: %x, %v", got, err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if _, err := webhooksig.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestSealOpens(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := webhooksig.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := webhooksig.NewSecret()
	box := s.Seal(secret)
	if bytes.Contains(box, secret) {
		t.Fatal("the sealed secret contains the secret")
	}
	got, err := s.Open(box)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %x, %v", got, err)
	}
	box[len(box)-1] ^= 1
	if _, err := s.Open(box); err == nil {
		t.Fatal("an altered box opened")
	}
	other, _ := webhooksig.NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(s.Seal(secret)); err == nil {
		t.Fatal("a box opened with another key")
	}
}

func TestVerifyAcceptsWhatHeaderSignedAndNothingElse(t *testing.T) {
	secret, other := webhooksig.NewSecret(), webhooksig.NewSecret()
	body := []byte(`{"type":"points.earned"}`)
	now := time.Now().Unix()
	header := func(id string, ts int64, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		h.Set("webhook-signature", sig)
		return h
	}
	good := webhooksig.Header([][]byte{other, secret}, "evt_1", now, body)
	if err := webhooksig.Verify(secret, header("evt_1", now, good), body); err != nil {
		t.Fatalf("a genuine delivery (second of two signatures): %v", err)
	}
	for name, c := range map[string]struct {
		h    http.Header
		body []byte
	}{
		"tampered body":    {header("evt_1", now, good), []byte(`{"type":"points.redeemed"}`)},
		"another id":       {header("evt_2", now, good), body},
		"another secret":   {header("evt_1", now, webhooksig.Sign(other, "evt_1", now, body)), body},
		"ten minutes old":  {header("evt_1", now-600, webhooksig.Sign(secret, "evt_1", now-600, body)), body},
		"no signature":     {header("evt_1", now, ""), body},
		"not a v1 version": {header("evt_1", now, "v2"+strings.TrimPrefix(webhooksig.Sign(secret, "evt_1", now, body), "v1")), body},
	} {
		if err := webhooksig.Verify(secret, c.h, c.body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
