package idempotency_test

import (
	"errors"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestCheck(t *testing.T) {
	earn := idempotency.Fingerprint("earn", struct{ Points int }{10})
	tests := []struct {
		name            string
		stored, request []byte
		wantConflict    bool
	}{
		{"the same request again", earn, idempotency.Fingerprint("earn", struct{ Points int }{10}), false},
		{"another body", earn, idempotency.Fingerprint("earn", struct{ Points int }{11}), true},
		{"another operation, same body", earn, idempotency.Fingerprint("burn", struct{ Points int }{10}), true},
		{"a prefix of the stored one", earn, earn[:len(earn)-1], true},
		{"nothing against something", nil, earn, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := idempotency.Check(tt.stored, tt.request, "r-1")
			if !tt.wantConflict {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || !errors.Is(err, idempotency.ErrConflict) || p.Kind != problem.Conflict || p.Reason != "IDEMPOTENCY_CONFLICT" {
				t.Fatalf("Check = %#v, want IDEMPOTENCY_CONFLICT", err)
			}
			if want := `requestId "r-1" was already used with a different request`; p.Message != want {
				t.Errorf("message %q, want %q", p.Message, want)
			}
		})
	}
}

func TestCheckfSaysWhatTheFirstRequestDid(t *testing.T) {
	err := idempotency.Checkf([]byte("cmp_a"), []byte("cmp_b"), "requestId %q already issued a coupon of campaign %s", "r-1", "cmp_a")
	p, ok := problem.As(err)
	if !ok || p.Reason != "IDEMPOTENCY_CONFLICT" || p.Message != `requestId "r-1" already issued a coupon of campaign cmp_a` {
		t.Fatalf("Checkf = %#v", err)
	}
	if err := idempotency.Checkf([]byte("cmp_a"), []byte("cmp_a"), "unused %s", "x"); err != nil {
		t.Fatalf("Checkf of the same = %v, want nil", err)
	}
	// The sentinel is not changed by the messages of its copies.
	if idempotency.ErrConflict.Message != "this requestId was already used with a different request" {
		t.Errorf("ErrConflict's message changed: %q", idempotency.ErrConflict.Message)
	}
}
