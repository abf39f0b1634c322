// Package pagetoken makes the page tokens of keyset-paginated lists. A token is
// opaque to callers, tamper-evident and bound to its query: it carries the position
// after which the next page starts and an HMAC-SHA256 tag over that position and
// the query (the list and its filter values, not the page size), so a token that
// was altered, made up, or used with another list or other filters is refused.
//
// The key must be the same on every replica and outlive restarts, so that a token
// given by one replica is accepted by the next call's; loyaltyd keeps it in the
// database (internal/serversecret).
package pagetoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// ErrInvalid is the answer to a token this server did not give for the query.
var ErrInvalid = &problem.Error{
	Kind: problem.Invalid, Reason: "INVALID_PAGE_TOKEN", Message: "invalid page token",
	Fields: []problem.FieldViolation{{Field: "pageToken", Description: "was not given by this list for the same filters " +
		"(start again without pageToken, or send the previous page's nextPageToken with the same filters)"}},
}

// MinKeyBytes is the shortest key New accepts: the tag is only as strong as the key.
const MinKeyBytes = 32

// tagBytes is the length of the truncated tag: 128 bits is far beyond guessing.
const tagBytes = 16

// domain separates this MAC from any other use of the key, and versions the format.
const domain = "loyalty page token v1\x00"

// encoding is strict so that every accepted token has exactly one spelling (Decode
// also re-encodes and compares, which rules out the newlines base64 skips).
var encoding = base64.RawURLEncoding.Strict()

// Codec encodes and checks page tokens with one key. It is safe for concurrent use.
type Codec struct {
	key []byte
}

// New is the codec with key, which must be at least MinKeyBytes long.
func New(key []byte) (*Codec, error) {
	if len(key) < MinKeyBytes {
		return nil, errors.New("pagetoken: key shorter than 32 bytes")
	}
	return &Codec{key: slices.Clone(key)}, nil
}

// Ephemeral is a codec with a random key of this process only: its tokens stop
// working when the process ends and are refused by other processes. For tests and
// for services built without a shared key.
func Ephemeral() *Codec {
	key := make([]byte, MinKeyBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it aborts the program instead)
	return &Codec{key: key}
}

// Query is what a token is bound to: the list and its filter values.
type Query struct {
	enc []byte
}

// For is the query of the list with the filter values, in a fixed order the list
// chooses. Empty values count: For("a", "") and For("a") are different queries.
func For(list string, filter ...string) Query {
	q := Query{enc: []byte(domain)}
	q.enc = appendField(q.enc, list)
	for _, f := range filter {
		q.enc = appendField(q.enc, f)
	}
	return q
}

// Set is a filter value for a set of values (kinds, say): the same set in any order
// is the same value.
func Set(values []string) string {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	var enc []byte
	for _, v := range sorted {
		enc = appendField(enc, v)
	}
	return string(enc)
}

// Time is a filter value for a time; the zero time (no bound) is the empty value.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// appendField appends s length-prefixed, so that no two lists of fields encode alike.
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Encode is the token of the page after pos, for q.
func (c *Codec) Encode(q Query, pos string) string {
	return encoding.EncodeToString(append([]byte(pos), c.tag(q, pos)...))
}

// Decode is the position of a token Encode(q, pos) gave; anything else is ErrInvalid.
func (c *Codec) Decode(q Query, tok string) (string, error) {
	raw, err := encoding.DecodeString(tok)
	if err != nil || len(raw) < tagBytes || encoding.EncodeToString(raw) != tok {
		return "", ErrInvalid
	}
	pos, tag := raw[:len(raw)-tagBytes], raw[len(raw)-tagBytes:]
	if !hmac.Equal(tag, c.tag(q, string(pos))) {
		return "", ErrInvalid
	}
	return string(pos), nil
}

// EncodeID is the token of the page after the row with id, for q.
func (c *Codec) EncodeID(q Query, id int64) string { return c.Encode(q, strconv.FormatInt(id, 10)) }

// DecodeID is the id of a token EncodeID(q, id) gave; anything else is ErrInvalid.
func (c *Codec) DecodeID(q Query, tok string) (int64, error) {
	pos, err := c.Decode(q, tok)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(pos, 10, 64)
	if err != nil {
		// A genuine tag over a position that is no id: a token of Encode, not EncodeID.
		return 0, ErrInvalid
	}
	return id, nil
}

func (c *Codec) tag(q Query, pos string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(q.enc)
	m.Write(appendField(nil, pos))
	return m.Sum(nil)[:tagBytes]
}
