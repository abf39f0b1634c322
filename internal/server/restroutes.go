package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// restRoute is one REST route of the gateway: which gRPC method it calls and how
// the request message is filled from the path, the query and the body.
type restRoute struct {
	httpMethod string
	segments   []string // literals, or "" where a path variable goes
	verb       string   // the custom verb after ':' in the last segment, if any
	fullMethod string   // /loyalty.v1.PointsService/Earn
	input      protoreflect.MessageType
	// vars are the fields the path variables set, by position in segments.
	vars map[int]protoreflect.FieldDescriptor
	// body is "" when the route takes no body, "*" when the body is the whole
	// request, else the name of the one field it fills (PUT /v1/program).
	body string
	// gateway is the gateway mux of the route's service (bindGateways).
	gateway http.Handler
}

// restRoutes is the route table of the REST front door, read once at start from
// the OpenAPI document, whose paths and operationIds are exactly the gateway's
// routes: both are generated from api/http.yaml.
type restRoutes struct {
	routes []*restRoute
}

// bindGateways gives every route the gateway mux of its service, by the service's
// full name (loyalty.v1.PointsService); a route whose service has none is an
// error at start, not a 404 at run time.
func (t *restRoutes) bindGateways(muxes map[string]*runtime.ServeMux) error {
	for _, r := range t.routes {
		service, _, _ := strings.Cut(strings.TrimPrefix(r.fullMethod, "/"), "/")
		mux, ok := muxes[service]
		if !ok {
			return fmt.Errorf("route %s %s: no gateway is registered for %s", r.httpMethod, r.fullMethod, service)
		}
		r.gateway = mux
	}
	return nil
}

// loadRESTRoutes builds the table from an OpenAPI (Swagger 2.0) document.
func loadRESTRoutes(doc []byte) (*restRoutes, error) {
	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return nil, fmt.Errorf("read openapi document: %w", err)
	}
	table := &restRoutes{}
	for path, ops := range spec.Paths {
		for method, op := range ops {
			service, name, ok := strings.Cut(op.OperationID, "_")
			if !ok {
				return nil, fmt.Errorf("route %s %s: operationId %q is not Service_Method", method, path, op.OperationID)
			}
			desc, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName("loyalty.v1." + service + "." + name))
			if err != nil {
				return nil, fmt.Errorf("route %s %s: %w", method, path, err)
			}
			md, ok := desc.(protoreflect.MethodDescriptor)
			if !ok {
				return nil, fmt.Errorf("route %s %s: %s is not a method", method, path, desc.FullName())
			}
			input, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
			if err != nil {
				return nil, fmt.Errorf("route %s %s: %w", method, path, err)
			}
			r := &restRoute{
				httpMethod: strings.ToUpper(method),
				fullMethod: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
				input:      input,
				vars:       map[int]protoreflect.FieldDescriptor{},
			}
			if err := r.parsePath(path); err != nil {
				return nil, fmt.Errorf("route %s %s: %w", method, path, err)
			}
			for _, p := range op.Parameters {
				if p.In != "body" {
					continue
				}
				r.body = "*"
				if fd := fieldByName(input.Descriptor(), p.Name); fd != nil {
					r.body = string(fd.Name())
				}
			}
			table.routes = append(table.routes, r)
		}
	}
	// A stable order, so that a clash between two routes (which a test rules out)
	// could not depend on map order.
	slices.SortFunc(table.routes, func(a, b *restRoute) int {
		return strings.Compare(a.httpMethod+" "+a.fullMethod, b.httpMethod+" "+b.fullMethod)
	})
	return table, nil
}

// parsePath reads a path template such as /v1/members/{memberId}/orders/{orderId}
// or /v1/members/{memberId}:earn.
func (r *restRoute) parsePath(path string) error {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if last := segs[len(segs)-1]; strings.Contains(last, ":") {
		i := strings.LastIndex(last, ":")
		segs[len(segs)-1], r.verb = last[:i], last[i+1:]
	}
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			r.segments = append(r.segments, seg)
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
		fd := fieldByName(r.input.Descriptor(), name)
		if fd == nil {
			return fmt.Errorf("path variable %s is not a field of %s", name, r.input.Descriptor().FullName())
		}
		r.vars[i] = fd
		r.segments = append(r.segments, "")
	}
	return nil
}

// fieldByName finds a field by its JSON (lowerCamelCase) or proto (snake_case) name.
func fieldByName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByJSONName(name); fd != nil {
		return fd
	}
	return md.Fields().ByName(protoreflect.Name(name))
}

// match finds the route of a request the way the gateway does: literal segments
// equal, a variable takes one whole segment, a custom verb is the suffix ":verb" of
// the last one. It returns the route and the raw values of its path variables, or
// no route and the methods the path allows (none: no such path).
func (t *restRoutes) match(method, path string) (*restRoute, map[int]string, []string) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil, nil
	}
	comps := strings.Split(path[1:], "/")
	var allow []string
	for _, r := range t.routes {
		values, ok := r.matchPath(comps)
		if !ok {
			continue
		}
		if r.httpMethod == method {
			return r, values, nil
		}
		if !slices.Contains(allow, r.httpMethod) {
			allow = append(allow, r.httpMethod)
		}
	}
	slices.Sort(allow)
	return nil, nil, allow
}

func (r *restRoute) matchPath(comps []string) (map[int]string, bool) {
	if len(comps) != len(r.segments) {
		return nil, false
	}
	last := comps[len(comps)-1]
	if r.verb != "" {
		trimmed, ok := strings.CutSuffix(last, ":"+r.verb)
		if !ok || trimmed == "" {
			return nil, false
		}
		last = trimmed
	} else if strings.Contains(last, ":") {
		// A ':' in the last segment starts a custom verb (ids may not contain
		// one): GET /v1/members/alice:earn is the earn route with the wrong
		// method, not the member "alice:earn".
		return nil, false
	}
	values := map[int]string{}
	for i, seg := range r.segments {
		c := comps[i]
		if i == len(comps)-1 {
			c = last
		}
		if _, isVar := r.vars[i]; isVar {
			values[i] = c
			continue
		}
		if c != seg {
			return nil, false
		}
	}
	return values, true
}
