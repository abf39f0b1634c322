package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// withDeadline gives every call the server's deadline. context.WithTimeout keeps
// an earlier deadline, so a client asking for less gets less. Everything under the
// call (SQL statements included: the pool sends PostgreSQL a cancel request) stops
// when it passes, and the caller gets DEADLINE_EXCEEDED (REST 504).
func withDeadline(timeout time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return handler(ctx, req)
	}
}
