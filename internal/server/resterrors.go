package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// The REST side's own refusals, before a call reaches a service: each reason is
// declared here once. Field violations name the API's camelCase fields.
var (
	errRouteNotFound         = problem.New(problem.NotFound, "NOT_FOUND", "no API route has this path (GET /openapi.json lists them)")
	errMethodNotAllowed      = problem.New(problem.Invalid, "METHOD_NOT_ALLOWED", "this path does not take this method")
	errBodyTooLarge          = problem.New(problem.Invalid, "BODY_TOO_LARGE", "the request body is too large")
	errMalformedBody         = problem.New(problem.Invalid, "MALFORMED_BODY", "the request body is not valid JSON")
	errMalformedPath         = problem.New(problem.Invalid, "MALFORMED_PATH", "the request path is malformed")
	errMalformedQuery        = problem.New(problem.Invalid, "MALFORMED_QUERY", "the query string is malformed")
	errUnknownField          = problem.New(problem.Invalid, "UNKNOWN_FIELD", "unknown field")
	errUnknownQueryParameter = problem.New(problem.Invalid, "UNKNOWN_QUERY_PARAMETER", "unknown query parameter")
	errInvalidFieldValue     = problem.New(problem.Invalid, "INVALID_FIELD_VALUE", "invalid value")
)

// httpError is a refusal whose HTTP status is not the one its gRPC code maps to
// (413, 405).
type httpError struct {
	status int
	code   codes.Code
	err    *problem.Error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func bodyTooLarge(limit int64) error {
	return &httpError{status: http.StatusRequestEntityTooLarge, code: codes.ResourceExhausted,
		err: errBodyTooLarge.With("the request body is larger than the limit of %d bytes", limit)}
}

func methodNotAllowed(method string, allow []string) error {
	allowed := strings.Join(allow, ", ")
	return &httpError{status: http.StatusMethodNotAllowed, code: codes.Unimplemented,
		err: errMethodNotAllowed.With("this path does not take %s; it takes %s", method, allowed).WithMetadata("allow", allowed)}
}

// forwardedHeaders are the gRPC response headers that REST answers carry, as HTTP
// headers (rate limits: draft-ietf-httpapi-ratelimit-headers), on success and error
// alike. The request id is not among them: the front door sets X-Request-Id.
var forwardedHeaders = map[string]string{
	"ratelimit":        "RateLimit",
	"ratelimit-policy": "RateLimit-Policy",
	"retry-after":      "Retry-After",
	positionHeader:     "Loyalty-Position",
}

func outgoingHeader(key string) (string, bool) {
	h, ok := forwardedHeaders[strings.ToLower(key)]
	return h, ok
}

// restErrors writes every REST error in one shape, the gateway's: a google.rpc.Status
// as JSON ({code, message, details}) whose details hold an ErrorInfo and, where
// fields are concerned, a BadRequest.
type restErrors struct {
	log       *slog.Logger
	marshaler runtime.Marshaler
}

// handle is the gateway's error handler (runtime.WithErrorHandler). A body the
// strict decoder refused arrives as a bare INVALID_ARGUMENT; the decoder's full
// error is on the request.
func (e restErrors) handle(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if c := restCallFrom(ctx); c != nil && c.decodeErr != nil {
		e.refuse(ctx, w, r, c.decodeErr)
		return
	}
	e.write(ctx, w, err)
}

// routing is the gateway's routing error handler. The front door answers unknown
// paths and methods first; this is the same answer should the gateway see one.
func (e restErrors) routing(routes *restRoutes) runtime.RoutingErrorHandlerFunc {
	return func(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
		switch code {
		case http.StatusNotFound:
			e.refuse(ctx, w, r, errRouteNotFound)
		case http.StatusMethodNotAllowed:
			_, _, allow := routes.match(r.Method, r.URL.Path)
			e.refuse(ctx, w, r, methodNotAllowed(r.Method, allow))
		default:
			e.refuse(ctx, w, r, errMalformedPath)
		}
	}
}

// refuse answers a request the REST side refuses before any service sees it, and
// logs it as the call log does a caller's error (at info).
func (e restErrors) refuse(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	st, code := e.status(ctx, err)
	if e.log.Enabled(ctx, slog.LevelInfo) {
		e.log.LogAttrs(ctx, slog.LevelInfo, "rest refused",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", code),
			slog.String("reason", reasonOf(st)), slog.String("requestId", w.Header().Get("X-Request-Id")))
	}
	e.writeStatus(ctx, w, st, code)
}

func (e restErrors) write(ctx context.Context, w http.ResponseWriter, err error) {
	st, code := e.status(ctx, err)
	e.writeStatus(ctx, w, st, code)
}

// status is the answer to err: a declared error with its code (or its own HTTP
// status), a gRPC status as it came, anything else INTERNAL. Every one gets an
// ErrorInfo.
func (e restErrors) status(ctx context.Context, err error) (*status.Status, int) {
	var he *httpError
	if errors.As(err, &he) {
		return withErrorInfo(status.Convert(declaredStatus(he.code, he.err))), he.status
	}
	st, ok := status.FromError(err)
	if !ok {
		st = status.Convert(toStatus(ctx, e.log, err))
	}
	if reasonOf(st) == "" {
		// A status no one declared (the gateway's own, say, for a header it
		// cannot pass on): at least a sentence, and an ErrorInfo; other details
		// (a RetryInfo) stay.
		sp := st.Proto()
		sp.Message = problem.New(problem.Internal, "", sp.GetMessage()).Sentence()
		st = withErrorInfo(status.FromProto(sp))
	}
	return st, runtime.HTTPStatusFromCode(st.Code())
}

func (e restErrors) writeStatus(ctx context.Context, w http.ResponseWriter, st *status.Status, code int) {
	h := w.Header()
	if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
		for k, vs := range md.HeaderMD {
			if name, ok := outgoingHeader(k); ok {
				for _, v := range vs {
					h.Add(name, v)
				}
			}
		}
	}
	if after := retryAfter(st); after != "" {
		h.Set("Retry-After", after)
	}
	if st.Code() == codes.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="loyalty"`)
	}
	if code == http.StatusMethodNotAllowed {
		if allow := allowOf(st); allow != "" {
			h.Set("Allow", allow)
		}
	}
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	buf, err := e.marshaler.Marshal(st.Proto())
	if err != nil {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"code":13,"message":"The error could not be written.","details":[]}`)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(buf)
}

// retryAfter is the Retry-After header for a status with a RetryInfo: whole
// seconds, rounded up, at least 1.
func retryAfter(st *status.Status) string {
	for _, d := range st.Details() {
		ri, ok := d.(*errdetails.RetryInfo)
		if !ok || ri.GetRetryDelay() == nil {
			continue
		}
		secs := math.Ceil(ri.GetRetryDelay().AsDuration().Seconds())
		if secs < 1 {
			secs = 1
		}
		return strconv.FormatInt(int64(secs), 10)
	}
	return ""
}

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// allowOf reads the allowed methods of a METHOD_NOT_ALLOWED status back from its
// ErrorInfo metadata, where methodNotAllowed put them.
func allowOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()["allow"]
		}
	}
	return ""
}
