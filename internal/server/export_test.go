package server

import (
	"context"
	"net/http"
)

// HTTPHandler is what the REST listener serves (front door, gateway, the direct
// call into the gRPC handlers and their interceptors), for benchmarks that call it without a socket
// so that their figures are the server's own work, not an HTTP client's.
func (s *Server) HTTPHandler(ctx context.Context) (http.Handler, error) {
	return s.httpHandler(ctx, true)
}
