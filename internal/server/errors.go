package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

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
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	log.ErrorContext(ctx, "internal error", "error", err, "requestId", requestIDFrom(ctx))
	return status.Errorf(codes.Internal, "internal error (request id %s)", requestIDFrom(ctx))
}

func declaredStatus(code codes.Code, p *problem.Error) error {
	st := status.New(code, p.Error())
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: p.Reason, Domain: errorDomain, Metadata: p.Metadata}}
	if len(p.Fields) > 0 {
		br := &errdetails.BadRequest{}
		for _, f := range p.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Description})
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
