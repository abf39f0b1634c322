package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestPanicsBecomeInternalWithoutDetails(t *testing.T) {
	intercept := recoverPanics(quiet)
	_, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/y"},
		func(context.Context, any) (any, error) { panic("secret internal state") })
	st := status.Convert(err)
	if st.Code() != codes.Internal {
		t.Fatalf("code %v, want Internal", st.Code())
	}
	if st.Message() == "" || strings.Contains(st.Message(), "secret") {
		t.Fatalf("message %q leaks the panic", st.Message())
	}
}

func TestUnknownErrorsAreGenericAndDeclaredOnesKeepTheirCode(t *testing.T) {
	err := toStatus(context.Background(), quiet, errors.New("pq: relation \"secret_table\" does not exist"))
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "secret") {
		t.Fatalf("unknown error answered %v %q", st.Code(), st.Message())
	}
	declared := map[problem.Kind]codes.Code{
		problem.Invalid: codes.InvalidArgument, problem.NotFound: codes.NotFound, problem.Conflict: codes.AlreadyExists,
		problem.Precondition: codes.FailedPrecondition, problem.Unauthenticated: codes.Unauthenticated,
		problem.PermissionDenied: codes.PermissionDenied, problem.Unavailable: codes.Unavailable,
	}
	for kind, want := range declared {
		err := toStatus(context.Background(), quiet, problem.New(kind, "SOME_REASON", "msg"))
		if got := status.Code(err); got != want {
			t.Errorf("kind %d: code %v, want %v", kind, got, want)
		}
	}
}

type keysFunc func(context.Context, string) (access.Key, error)

func (f keysFunc) Authenticate(ctx context.Context, s string) (access.Key, error) { return f(ctx, s) }

func TestAMethodMissingFromTheRoleTableIsRefusedEvenToAdmins(t *testing.T) {
	admin := keysFunc(func(context.Context, string) (access.Key, error) {
		return access.Key{ID: "k", Role: access.RoleAdmin}, nil
	})
	called := false
	_, err := authorize(admin)(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/loyalty.v1.Hidden/DropTables"},
		func(context.Context, any) (any, error) { called = true; return nil, nil })
	if status.Code(toStatus(context.Background(), quiet, err)) != codes.PermissionDenied || called {
		t.Fatalf("got %v (handler called: %v), want PermissionDenied and no call", err, called)
	}
}

func TestStatusesFromElsewhereKeepTheirDetailsAndGainAnErrorInfo(t *testing.T) {
	limited, _ := status.New(codes.ResourceExhausted, "Too many requests.").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	st := status.Convert(toStatus(context.Background(), quiet, limited.Err()))
	var retry, info bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = true
		case *errdetails.ErrorInfo:
			info = d.GetReason() == "RESOURCE_EXHAUSTED" && d.GetDomain() == errorDomain
		}
	}
	if st.Code() != codes.ResourceExhausted || !retry || !info || st.Message() != "Too many requests." {
		t.Errorf("got %v %q %v", st.Code(), st.Message(), st.Details())
	}
}
