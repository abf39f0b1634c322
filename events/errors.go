package events

import "github.com/loyalty-engine/loyalty/internal/problem"

func invalid(reason, field, description string) error {
	return &problem.Error{
		Kind: problem.Invalid, Reason: reason, Message: "invalid " + field,
		Fields: []problem.FieldViolation{{Field: field, Description: description}},
	}
}
