// Package idempotency identifies request bodies, so that a requestId reused with a
// different body is told from a retry of the same request.
package idempotency

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
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
