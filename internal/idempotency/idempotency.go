// Package idempotency identifies request bodies, so that a requestId reused with a
// different body is told from a retry of the same request.
package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// Fingerprint is a hash of the operation and the command's JSON form.
func Fingerprint(op string, cmd any) []byte {
	b, err := json.Marshal(cmd)
	if err != nil {
		panic(fmt.Sprintf("fingerprint %s: %v", op, err)) // commands are plain structs
	}
	h := sha256.New()
	h.Write([]byte(op))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)
}

// ErrConflict refuses a requestId reused with a different request: the first
// request's result stands and is not answered to another.
var ErrConflict = problem.New(problem.Conflict, "IDEMPOTENCY_CONFLICT",
	"this requestId was already used with a different request")

// Check is the rule for a request whose requestId already has a stored result:
// stored is what identified the first request (its fingerprint), request what
// identifies this one. The same means a retry, answered with the stored result
// (nil here); anything else is ErrConflict naming the requestId.
func Check(stored, request []byte, requestID string) error {
	return Checkf(stored, request, "requestId %q was already used with a different request", requestID)
}

// Checkf is Check with the conflict's message, for callers that can say more
// (what the first request did).
func Checkf(stored, request []byte, format string, args ...any) error {
	if bytes.Equal(stored, request) {
		return nil
	}
	return ErrConflict.With(format, args...)
}
