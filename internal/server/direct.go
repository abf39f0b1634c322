package server

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// directConn is how the REST gateway reaches the services: a gRPC client
// connection that calls the registered handler in the caller's goroutine through
// the server's own interceptor chain (the same auth, role table, rate limit,
// audit, logs and metrics as a call over gRPC), with no socket, no serialization
// and no goroutine per call. It is a grpc.ServiceRegistrar on the server side
// (the services register with it as with the gRPC server) and a
// grpc.ClientConnInterface on the client side (the gateway's generated clients
// call it).
//
// Why not an in-process channel library: a page-view read is a few tens of
// microseconds of work, and a goroutine per call (whose stack grows through the
// interceptor chain every time), a deep copy of each message and a
// cancellation watcher cost about as much again. Here the request is copied
// once into the handler's message (the generated handler owns its request) and
// the answer once into the client's; everything else is the caller's.
type directConn struct {
	interceptor grpc.UnaryServerInterceptor
	// streamRefusal answers every streaming call: streams never pass the gateway
	// (WatchEvents is gRPC only), as they could not go through the unary role
	// table.
	streamRefusal error

	mu      sync.RWMutex
	methods map[string]directMethod
}

// directMethod is one unary method of a registered service.
type directMethod struct {
	impl    any
	handler grpc.MethodHandler
}

func newDirectConn(interceptor grpc.UnaryServerInterceptor, streamRefusal error) *directConn {
	return &directConn{interceptor: interceptor, streamRefusal: streamRefusal, methods: map[string]directMethod{}}
}

// RegisterService records the service's unary methods (grpc.ServiceRegistrar).
func (c *directConn) RegisterService(desc *grpc.ServiceDesc, impl any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = directMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke runs a unary call (grpc.ClientConnInterface). The caller's outgoing
// metadata becomes the call's incoming metadata, and what the interceptors and
// handlers set with grpc.SetHeader and grpc.SetTrailer reaches the caller's
// grpc.Header and grpc.Trailer options, as over a connection.
func (c *directConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	c.mu.RLock()
	m, ok := c.methods[method]
	c.mu.RUnlock()
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	stream := &directStream{method: method}
	ctx = grpc.NewContextWithServerTransportStream(metadata.NewIncomingContext(ctx, md), stream)
	request, ok := args.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "request of %s is a %T, not a protobuf message", method, args)
	}
	decode := func(in any) error {
		proto.Merge(in.(proto.Message), request)
		return nil
	}
	resp, err := m.handler(m.impl, ctx, decode, c.interceptor)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = stream.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = stream.trailer
		}
	}
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = status.Error(codes.Unknown, err.Error()) // as a gRPC server would send it
		}
		return err
	}
	answer, ok := resp.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "answer of %s is a %T, not a protobuf message", method, resp)
	}
	proto.Merge(reply.(proto.Message), answer)
	return nil
}

// NewStream refuses every streaming call (grpc.ClientConnInterface).
func (c *directConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, c.streamRefusal
}

// directStream collects a direct call's header and trailer metadata
// (grpc.ServerTransportStream). A call runs in one goroutine, but a handler may
// set headers from another it starts, so it locks.
type directStream struct {
	method string

	mu              sync.Mutex
	header, trailer metadata.MD
}

func (s *directStream) Method() string { return s.method }

func (s *directStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = joinMetadata(s.header, md)
	return nil
}

func (s *directStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *directStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = joinMetadata(s.trailer, md)
	return nil
}

// joinMetadata adds md to into, allocating only for the first.
func joinMetadata(into, md metadata.MD) metadata.MD {
	if into == nil {
		return md.Copy()
	}
	for k, v := range md {
		into[k] = append(into[k], v...)
	}
	return into
}

var _ interface {
	grpc.ServiceRegistrar
	grpc.ClientConnInterface
} = (*directConn)(nil)

var _ grpc.ServerTransportStream = (*directStream)(nil)
