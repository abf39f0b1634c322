package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
)

// streamingMethods are the API's server streams. Each is also in the role table;
// any other stream is refused before it is authenticated.
var streamingMethods = map[string]bool{
	"/loyalty.v1.EventService/WatchEvents": true,
}

// authorizeStreams is the unary chain's auth, error mapping and panic recovery for
// the server streams: the key is authenticated and its role checked against the
// same table before the stream's handler runs. Streams are reads, so they are not
// audited; a stream that is not declared is refused (errStreamsRefused).
func authorizeStreams(keys authenticator, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		if !streamingMethods[info.FullMethod] {
			return errStreamsRefused
		}
		ctx := ss.Context()
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(ctx, "panic", "panic", p, "method", info.FullMethod, "stack", string(debug.Stack()))
				err = internalStatus(ctx).Err()
			}
		}()
		key, err := keys.Authenticate(ctx, bearerSecret(ctx))
		if err != nil {
			return toStatus(ctx, log, err)
		}
		if !Allowed(key.Role, info.FullMethod) {
			return toStatus(ctx, log, permissionDenied(key.Role, info.FullMethod))
		}
		err = handler(srv, &keyedStream{ServerStream: ss, ctx: context.WithValue(ctx, principalKey, key)})
		return toStatus(ctx, log, err)
	}
}

// keyedStream is a stream whose context carries the caller's key.
type keyedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *keyedStream) Context() context.Context { return s.ctx }
