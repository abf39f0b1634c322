package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

type ctxKey int

const (
	callKey ctxKey = iota
	principalKey
)

// call is what the outer interceptors learn about a call as it goes: the request id
// at once, the key once authenticated (for the log line written on the way out).
type call struct {
	requestID string
	keyID     string
	// header is what the interceptors answer as response headers, sent once
	// when the call ends (setCallHeader): each grpc.SetHeader copies all that
	// was set before.
	header metadata.MD
}

// requestIDHeader carries the request id in both directions (gRPC metadata, and the
// X-Request-Id HTTP header through the gateway).
const requestIDHeader = "x-request-id"

// withRequestID takes the caller's request id, or makes one, puts it in the context
// for logs and error messages, and sends it back as a response header.
func withRequestID(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := ""
	if v := metadata.ValueFromIncomingContext(ctx, requestIDHeader); len(v) > 0 && len(v[0]) <= 128 {
		id = v[0]
	}
	if id == "" {
		id = newRequestID()
	}
	c := &call{requestID: id, header: metadata.MD{requestIDHeader: {id}}}
	resp, err := handler(context.WithValue(ctx, callKey, c), req)
	// Before the answer is written: a unary call's headers go out with it (or
	// with the status of a failed call).
	_ = grpc.SetHeader(ctx, c.header)
	return resp, err
}

// setCallHeader adds a response header (a key and its value) to those the call
// answers; outside withRequestID (no call in the context) it sets it directly.
func setCallHeader(ctx context.Context, key, value string) {
	if c, ok := ctx.Value(callKey).(*call); ok {
		c.header[key] = append(c.header[key], value)
		return
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(key, value))
}

// newRequestID makes a request id for a caller that sent none.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requestIDFrom(ctx context.Context) string {
	if c, ok := ctx.Value(callKey).(*call); ok {
		return c.requestID
	}
	return ""
}

// PrincipalFrom returns the authenticated key of the call.
func PrincipalFrom(ctx context.Context) (access.Key, bool) {
	k, ok := ctx.Value(principalKey).(access.Key)
	return k, ok
}

// logCalls logs every finished call: successes at debug level, caller errors at info,
// server errors at error level. Nothing is formatted for a level that is off.
func logCalls(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		level := slog.LevelInfo
		switch code {
		case codes.OK:
			level = slog.LevelDebug
		case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
			level = slog.LevelError
		}
		if !log.Enabled(ctx, level) {
			return resp, err
		}
		attrs := []slog.Attr{
			slog.String("method", info.FullMethod),
			slog.String("code", code.String()),
			slog.Duration("duration", time.Since(start)),
			slog.String("requestId", requestIDFrom(ctx)),
		}
		if c, ok := ctx.Value(callKey).(*call); ok && c.keyID != "" {
			attrs = append(attrs, slog.String("keyId", c.keyID))
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
		}
		log.LogAttrs(ctx, level, "call", attrs...)
		return resp, err
	}
}

// recoverPanics turns a panic into INTERNAL, logging the stack once.
func recoverPanics(log *slog.Logger) grpc.UnaryServerInterceptor {
	return recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic", "panic", p, "requestId", requestIDFrom(ctx), "stack", string(debug.Stack()))
		return internalStatus(ctx).Err()
	}))
}

// mapErrors converts what handlers and inner interceptors return into statuses.
func mapErrors(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, toStatus(ctx, log, err)
		}
		return resp, nil
	}
}

// authenticator is what the auth interceptor needs from the key store.
type authenticator interface {
	Authenticate(ctx context.Context, secret string) (access.Key, error)
}

// authorize authenticates the bearer key and checks the role table. It runs for
// gRPC and REST alike, because the gateway calls the gRPC server: the REST front
// door (rest.go) checks the same before it reads a body, and this check stays the
// one that decides, for every call whatever its way in.
func authorize(keys authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		key, err := keys.Authenticate(ctx, bearerSecret(ctx))
		if err != nil {
			return nil, err
		}
		if c, ok := ctx.Value(callKey).(*call); ok {
			c.keyID = key.ID
		}
		// Before the role check: a refused call is recorded with its key too.
		audit.From(ctx).Identify(key.ID, string(key.Role))
		if !Allowed(key.Role, info.FullMethod) {
			return nil, permissionDenied(key.Role, info.FullMethod)
		}
		return handler(context.WithValue(ctx, principalKey, key), req)
	}
}

// errPermissionDenied is the refusal of a key whose role may not call a method.
var errPermissionDenied = problem.New(problem.PermissionDenied, "PERMISSION_DENIED", "this key's role may not call this method")

// permissionDenied names the role and the method ("PointsService.ReverseEntry"),
// also as ErrorInfo metadata.
func permissionDenied(role access.Role, fullMethod string) error {
	method := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(fullMethod, "/"), "loyalty.v1."), "/", ".")
	return errPermissionDenied.With("the %s role may not call %s", role, method).
		WithMetadata("role", string(role), "method", method)
}

// errStreamsRefused answers a streaming call that is not one of the API's declared
// streams (streams.go), and every stream through the REST gateway: a stream must
// never slip past the unary role table.
var errStreamsRefused = declaredStatus(codes.PermissionDenied, errPermissionDenied.With("streaming calls are not part of this API"))

func bearerSecret(ctx context.Context) string {
	v := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(v) == 0 {
		return ""
	}
	return parseBearer(v[0])
}

// parseBearer returns the secret of "Bearer <secret>", or "" for any other
// scheme (Basic...), which then fails authentication like a missing key.
func parseBearer(authorization string) string {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(secret)
}

// chainUnary composes interceptors, the first outermost, as grpc.ChainUnaryInterceptor
// does; the gRPC server and the REST gateway's direct calls both run it. Why not
// grpc's own: it (like the obvious closure per level) allocates a handler for each
// interceptor on every call, eleven here; a chainCall is one allocation, and the
// handler it passes down is one method value.
func chainUnary(interceptors ...grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		c := &chainCall{interceptors: interceptors, info: info, final: handler}
		c.nextHandler = c.next
		return c.next(ctx, req)
	}
}

// chainCall is one call's walk down the chain: level is the interceptor the next
// handler call enters. An interceptor may call its handler more than once (the
// replica router runs a failed read again on the primary), one call after the
// other: each level puts level back when its interceptor returns, so a second
// call enters the same interceptor as the first.
type chainCall struct {
	interceptors []grpc.UnaryServerInterceptor
	info         *grpc.UnaryServerInfo
	final        grpc.UnaryHandler
	nextHandler  grpc.UnaryHandler // c.next, made once
	level        int
}

func (c *chainCall) next(ctx context.Context, req any) (any, error) {
	i := c.level
	if i == len(c.interceptors) {
		return c.final(ctx, req)
	}
	c.level = i + 1
	resp, err := c.interceptors[i](ctx, req, c.info, c.nextHandler)
	c.level = i
	return resp, err
}
