package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

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
}

// toStatus is the one place where errors become gRPC statuses. Declared domain
// errors keep their message and carry an ErrorInfo (reason) and, for bad input, a
// BadRequest naming the fields. Anything else is logged once here and answered as a
// generic INTERNAL, so no internals leak.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
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
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	log.ErrorContext(ctx, "internal error", "error", err, "requestId", requestIDFrom(ctx))
	return status.Errorf(codes.Internal, "internal error (request id %s)", requestIDFrom(ctx))
}

// unavailableRetryDelay is what an UNAVAILABLE answer tells the caller to wait
// (RetryInfo, which REST sends as Retry-After).
const unavailableRetryDelay = time.Second

func declaredStatus(code codes.Code, p *problem.Error) error {
	st := status.New(code, p.Error())
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: p.Reason, Domain: errorDomain, Metadata: p.Metadata}}
	if code == codes.Unavailable {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(unavailableRetryDelay)})
	}
	if len(p.Fields) > 0 {
		br := &errdetails.BadRequest{}
		for _, f := range p.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Description})
		}
		details = append(details, br)
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}
