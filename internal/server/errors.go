package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// errorDomain is the ErrorInfo domain of every error this service declares.
const errorDomain = "loyalty.v1"

var kindCodes = map[problem.Kind]codes.Code{
	problem.Invalid:          codes.InvalidArgument,
	problem.NotFound:         codes.NotFound,
	problem.Conflict:         codes.AlreadyExists,
	problem.Precondition:     codes.FailedPrecondition,
	problem.Unauthenticated:  codes.Unauthenticated,
	problem.PermissionDenied: codes.PermissionDenied,
	problem.Unavailable:      codes.Unavailable,
	problem.Exhausted:        codes.ResourceExhausted,
}

// toStatus is the one place where errors become gRPC statuses. Declared domain
// errors keep their message, as a sentence (problem.Error.Sentence), and carry an
// ErrorInfo (reason) and, for bad input, a BadRequest naming the fields. Statuses
// made elsewhere (an interceptor's) pass as they are, with an ErrorInfo added if
// they have none. Anything else is logged once here and answered as a generic
// INTERNAL, so no internals leak.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return withErrorInfo(st).Err()
	}
	if p, ok := problem.As(err); ok {
		code, known := kindCodes[p.Kind]
		if known {
			return declaredStatus(code, p)
		}
	}
	// Past the call's deadline, whatever failed failed because of it (a cancelled
	// statement, a cut connection): the caller hears DEADLINE_EXCEEDED.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = context.DeadlineExceeded
	}
	if u := database.Unavailable(err); u != nil {
		p, _ := problem.As(u)
		return declaredStatus(codes.Unavailable, p)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return withErrorInfo(status.New(codes.Canceled, "The request was canceled.")).Err()
	case errors.Is(err, context.DeadlineExceeded):
		return withErrorInfo(status.New(codes.DeadlineExceeded, "The request ran out of time.")).Err()
	}
	log.ErrorContext(ctx, "internal error", "error", err, "requestId", requestIDFrom(ctx))
	return internalStatus(ctx).Err()
}

// internalStatus is the answer to anything unexpected: no detail but the request
// id, which finds the logged error.
func internalStatus(ctx context.Context) *status.Status {
	return withErrorInfo(status.Newf(codes.Internal, "Internal error (request id %s).", requestIDFrom(ctx)))
}

// withErrorInfo adds an ErrorInfo to a status that has none, with the code's name
// as its reason (INTERNAL, UNAVAILABLE, RESOURCE_EXHAUSTED...), so that every error
// a caller sees carries one.
func withErrorInfo(st *status.Status) *status.Status {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return st
		}
	}
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: codeReason(st.Code()), Domain: errorDomain})
	if err != nil {
		return st
	}
	return withInfo
}

// codeReason is a code's name as an ErrorInfo reason: DEADLINE_EXCEEDED.
func codeReason(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELLED" // the name in google.rpc.Code; grpc-go spells it Canceled
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// validText makes a text that may echo the caller's input (a query parameter's
// name, a value) valid UTF-8: a status whose strings are not cannot be encoded, and
// the caller would get an INTERNAL instead of the 400 it earned.
func validText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func declaredStatus(code codes.Code, p *problem.Error) error {
	st := status.New(code, validText(p.Sentence()))
	metadata := make(map[string]string, len(p.Metadata))
	for k, v := range p.Metadata {
		metadata[validText(k)] = validText(v)
	}
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: p.Reason, Domain: errorDomain, Metadata: metadata}}
	if len(p.Fields) > 0 {
		br := &errdetails.BadRequest{}
		for _, f := range p.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: validText(f.Field), Description: validText(f.Description)})
		}
		details = append(details, br)
	}
	if p.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(p.RetryAfter)})
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}
