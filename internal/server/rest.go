package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/loyalty-engine/loyalty/internal/audit"
)

// restFront is the REST front door, in front of the gateway. The gateway's
// generated handlers decode the body before they call the service, so the gRPC
// interceptors authenticate a REST call only after its body is read: a caller
// without a key would learn how its body is wrong. The front door matches the route
// (the same table the gateway was generated from), answers unknown paths (404) and
// methods (405 with Allow), authenticates the key and checks the role before
// anything else, checks the path variables and query parameters against the
// request's fields, and bounds the body. Then the gateway runs; the gRPC
// interceptors authorize the call again, so the role table stays the one that
// decides, whatever the way in, and a route the two read differently could never
// let a call through that gRPC would refuse.
type restFront struct {
	routes  *restRoutes
	keys    authenticator
	errors  restErrors
	maxBody int64
	// audit records the calls by a key this door refuses (audit_rest.go).
	audit *audit.Store
}

type restCallKeyType struct{}

// restCall is what the front door, the body decoder and the error handler share
// about one REST request.
type restCall struct {
	// decodeErr is the body decoder's refusal, with its reason and field.
	decodeErr error
}

func restCallFrom(ctx context.Context) *restCall {
	c, _ := ctx.Value(restCallKeyType{}).(*restCall)
	return c
}

// restBody is the request body as the gateway sees it: bounded, and carrying the
// call so that the decoder can leave its refusal there.
type restBody struct {
	io.ReadCloser
	call *restCall
}

func (f *restFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	r.Header.Set("X-Request-Id", id) // the gateway passes it on to the interceptors
	w.Header().Set("X-Request-Id", id)
	call := &restCall{}
	ctx := context.WithValue(r.Context(), restCallKeyType{}, call)
	r = r.WithContext(ctx)

	route, vars, allow := f.routes.match(r.Method, r.URL.Path)
	if route == nil {
		if len(allow) > 0 {
			f.errors.refuse(ctx, w, r, methodNotAllowed(r.Method, allow))
		} else {
			f.errors.refuse(ctx, w, r, errRouteNotFound)
		}
		return
	}
	key, err := f.keys.Authenticate(ctx, parseBearer(r.Header.Get("Authorization")))
	if err != nil {
		f.errors.refuse(ctx, w, r, err)
		return
	}
	refuse := func(err error) {
		f.auditRefusal(ctx, r, route, vars, key, err)
		f.errors.refuse(ctx, w, r, err)
	}
	if !Allowed(key.Role, route.fullMethod) {
		refuse(permissionDenied(key.Role, route.fullMethod))
		return
	}
	if r.ContentLength > f.maxBody {
		refuse(bodyTooLarge(f.maxBody))
		return
	}
	if err := route.checkPathAndQuery(vars, r.URL.RawQuery); err != nil {
		refuse(err)
		return
	}
	r.Body = &restBody{ReadCloser: http.MaxBytesReader(w, r.Body, f.maxBody), call: call}
	route.gateway.ServeHTTP(w, r)
	if call.decodeErr != nil { // refused by the decoder: the call never reached the server
		f.auditRefusal(ctx, r, route, vars, key, call.decodeErr)
	}
}

// validRequestID accepts a caller's request id that fits in gRPC metadata:
// 1-128 printable ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkPathAndQuery fills a request message from the path variables and the query
// the way the gateway will, and refuses what the gateway would silently drop or
// answer in Go's words: a value that does not parse, a query parameter that is not
// a field of the request (or is one the path or body sets).
func (r *restRoute) checkPathAndQuery(vars map[int]string, rawQuery string) error {
	msg := r.input.New().Interface()
	var bound [][]string
	for i, fd := range r.vars {
		if err := runtime.PopulateFieldFromPath(msg, string(fd.Name()), vars[i]); err != nil {
			return invalidValue(fd.JSONName(), expectation(fd))
		}
		bound = append(bound, []string{string(fd.Name())})
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return errMalformedQuery.With("the query string is malformed: %s", "use percent-encoding for reserved characters")
	}
	if len(query) == 0 {
		return nil
	}
	if r.body != "" {
		// The gateway reads no query for a route with a body: every parameter
		// would be ignored.
		name := sortedKeys(query)[0]
		return errUnknownQueryParameter.WithField(name, "is not a query parameter of this request: this call takes its fields in the body")
	}
	return strictQueryParser{}.Parse(msg, query, utilities.NewDoubleArray(bound))
}

// strictQueryParser is the gateway's query parser (runtime.SetQueryParameterParser),
// also run by the front door before anything else. Unlike the default parser it
// refuses a parameter that is not a field of the request, or one the path sets,
// instead of ignoring it, and says in words what a value must be. Names are the
// request's fields by their JSON (lowerCamelCase) name, as the OpenAPI document
// lists them; the proto snake_case names, which the default parser takes, are
// accepted too, so links that worked keep working; errors always name the
// camelCase field.
type strictQueryParser struct{}

func (strictQueryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	md := msg.ProtoReflect().Descriptor()
	seen := map[string]bool{}
	for _, key := range sortedKeys(values) {
		fields := queryFields(md, key)
		if fields == nil {
			return errUnknownQueryParameter.WithField(key, "is not a query parameter of this request")
		}
		var jsonPath, protoPath []string
		for _, fd := range fields {
			jsonPath = append(jsonPath, fd.JSONName())
			protoPath = append(protoPath, string(fd.Name()))
		}
		name := strings.Join(jsonPath, ".")
		if filter != nil && filter.HasCommonPrefix(protoPath) {
			return errUnknownQueryParameter.WithField(key, "is set by the path, not the query")
		}
		leaf := fields[len(fields)-1]
		if seen[name] || (!leaf.IsList() && len(values[key]) > 1) {
			return invalidValue(name, "is given more than once")
		}
		seen[name] = true
		if err := (&runtime.DefaultQueryParser{}).Parse(msg, url.Values{key: values[key]}, filter); err != nil {
			return invalidValue(name, expectation(leaf))
		}
	}
	return nil
}

// queryFields resolves a dotted parameter name (spend.amountMinor) to its fields,
// or nil when it names no settable field.
func queryFields(md protoreflect.MessageDescriptor, key string) []protoreflect.FieldDescriptor {
	var fields []protoreflect.FieldDescriptor
	for _, part := range strings.Split(key, ".") {
		if md == nil {
			return nil
		}
		fd := fieldByName(md, part)
		if fd == nil || fd.IsMap() {
			return nil
		}
		fields = append(fields, fd)
		md = nil
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && wellKnown(fd.Message()) == "" {
			md = fd.Message()
		}
	}
	last := fields[len(fields)-1]
	if last.Kind() == protoreflect.MessageKind && wellKnown(last.Message()) == "" {
		return nil // a message is set through its fields, never as a whole
	}
	return fields
}

func sortedKeys(values url.Values) []string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func init() {
	// The query parser is a global of the gateway's runtime package: set it once,
	// before any server starts, rather than from every ServeMux (tests run several).
	runtime.SetQueryParameterParser(strictQueryParser{})(nil)
}
