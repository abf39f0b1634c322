// Package problem is the shared vocabulary of domain errors. Domain packages declare
// their errors with it (a kind, a stable machine-readable reason and a message); the
// transport layer turns a kind into a gRPC code in one place. Domain code never
// imports gRPC.
package problem

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind classifies an error the way a caller must react to it.
type Kind int

const (
	// Internal is anything not declared: logged, and answered generically.
	Internal Kind = iota
	// Invalid: the request is malformed; Fields names what is wrong.
	Invalid
	// NotFound: a named thing does not exist.
	NotFound
	// Conflict: the request clashes with an earlier one (an idempotency key reused
	// with a different body, a duplicate).
	Conflict
	// Precondition: the request is well-formed but the state does not allow it
	// (insufficient points, budget spent).
	Precondition
	// Unauthenticated: no credentials, or unknown or revoked ones.
	Unauthenticated
	// PermissionDenied: the caller's role does not allow this.
	PermissionDenied
	// Unavailable: a dependency is down; retrying later may work.
	Unavailable
	// Exhausted: the caller used up a quota (a rate limit); RetryAfter says when
	// trying again can work.
	Exhausted
)

// FieldViolation names one invalid field of a request and what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

// Error is a declared domain error.
type Error struct {
	Kind    Kind
	Reason  string // stable, UPPER_SNAKE_CASE, e.g. INSUFFICIENT_POINTS
	Message string // human-readable, safe to show to the caller
	Fields  []FieldViolation
	// Metadata is extra machine-readable context (e.g. available points).
	Metadata map[string]string
	// RetryAfter is how long the caller should wait before trying again; zero: no
	// advice.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	msg := e.Message
	for i, f := range e.Fields {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		msg += sep + f.Field + " " + f.Description
	}
	return msg
}

// Sentence is the error as a caller reads it: the message with a capital letter
// (unless it starts with a field name such as requestId), each field's violation
// after it, and a full stop. Error stays in Go's lower-case style for wrapping
// and logs.
func (e *Error) Sentence() string {
	msg := capitalize(e.Message)
	for i, f := range e.Fields {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		msg += sep + f.Field + " " + f.Description
	}
	return Sentence(msg)
}

// Sentence ends msg with a full stop unless it ends with punctuation already.
func Sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	switch msg[len(msg)-1] {
	case '.', '!', '?':
		return msg
	}
	return msg + "."
}

// capitalize upper-cases the first letter of msg unless its first word is an
// identifier (a lower-case word with an upper-case letter inside, such as
// requestId), which keeps its spelling.
func capitalize(msg string) string {
	first, _, _ := strings.Cut(msg, " ")
	r, size := utf8.DecodeRuneInString(first)
	if size == 0 || !unicode.IsLower(r) || strings.IndexFunc(first, unicode.IsUpper) >= 0 {
		return msg
	}
	return string(unicode.ToUpper(r)) + msg[size:]
}

// Is makes errors.Is(err, sentinel) true for every error of the same kind and reason,
// so a sentinel refined with With or WithMetadata still matches it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Reason == e.Reason
}

// With returns a copy carrying a more specific message.
func (e *Error) With(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// WithMetadata returns a copy carrying extra key/value context.
func (e *Error) WithMetadata(kv ...string) *Error {
	c := *e
	c.Metadata = make(map[string]string, len(e.Metadata)+len(kv)/2)
	for k, v := range e.Metadata {
		c.Metadata[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Metadata[kv[i]] = kv[i+1]
	}
	return &c
}

// WithRetryAfter returns a copy advising the caller to wait d before trying again.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// WithField returns a copy that also names an offending field.
func (e *Error) WithField(field, description string) *Error {
	c := *e
	c.Fields = append(append([]FieldViolation(nil), e.Fields...), FieldViolation{Field: field, Description: description})
	return &c
}

// New declares an error.
func New(kind Kind, reason, message string) *Error {
	return &Error{Kind: kind, Reason: reason, Message: message}
}

// InvalidFields is a validation failure naming the offending fields.
func InvalidFields(fields ...FieldViolation) *Error {
	return &Error{Kind: Invalid, Reason: "INVALID_ARGUMENT", Message: "invalid request", Fields: fields}
}

// InvalidField is a validation failure of a single field.
func InvalidField(field, description string) *Error {
	return InvalidFields(FieldViolation{Field: field, Description: description})
}

// As returns the declared error inside err, if any.
func As(err error) (*Error, bool) {
	var p *Error
	if errors.As(err, &p) {
		return p, true
	}
	return nil, false
}
