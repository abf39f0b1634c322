package server

import (
	"context"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/loyalty-engine/loyalty/access"
)

// auditRefusal records a REST call by a key that the front door or the body
// decoder refused: it never reaches the gRPC server, whose audit interceptor
// records every other call. Its target comes from the path (the body was not read,
// or did not decode), its requestId from the Idempotency-Key header.
func (f *restFront) auditRefusal(ctx context.Context, r *http.Request, route *restRoute, vars map[int]string, key access.Key, refusal error) {
	target, audited := auditedMethods[route.fullMethod]
	if !audited || f.audit == nil {
		return
	}
	msg := route.input.New().Interface()
	for i, fd := range route.vars {
		_ = runtime.PopulateFieldFromPath(msg, string(fd.Name()), vars[i]) // a bad value is the refusal itself
	}
	call := f.audit.Start(route.fullMethod)
	call.Identify(key.ID, string(key.Role))
	call.Describe(target(msg, nil), memberOf(msg), r.Header.Get(idempotencyKeyHeader))
	st, _ := f.errors.status(ctx, refusal)
	outcome, reason := outcomeOf(st.Err())
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := f.audit.Finish(wctx, call, outcome, reason); err != nil {
		f.errors.log.ErrorContext(ctx, "audit record not written", "error", err, "method", route.fullMethod,
			"requestId", r.Header.Get("X-Request-Id"))
	}
}
