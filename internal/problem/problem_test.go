package problem_test

import (
	"testing"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestSentence(t *testing.T) {
	for _, tc := range []struct {
		err  *problem.Error
		want string
	}{
		{problem.New(problem.NotFound, "MEMBER_NOT_FOUND", "member not found"), "Member not found."},
		{problem.New(problem.Conflict, "IDEMPOTENCY_CONFLICT", "requestId \"x\" was already used"), "requestId \"x\" was already used."},
		{problem.New(problem.Unauthenticated, "UNAUTHENTICATED", "API key not found"), "API key not found."},
		{problem.New(problem.Precondition, "X", "is it over?"), "Is it over?"},
		{problem.New(problem.Precondition, "X", "ünïcode first."), "Ünïcode first."},
		{problem.InvalidFields(problem.FieldViolation{Field: "memberId", Description: "is required"},
			problem.FieldViolation{Field: "points", Description: "must be greater than 0"}),
			"Invalid request: memberId is required; points must be greater than 0."},
	} {
		if got := tc.err.Sentence(); got != tc.want {
			t.Errorf("Sentence() = %q, want %q", got, tc.want)
		}
	}
}
