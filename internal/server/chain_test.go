package server

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc"
)

// TestChainUnary checks the composed chain's order, that an interceptor calling its
// handler twice (as the replica router does on a failed replica read) enters the
// same inner interceptors both times, and that a refusal stops the walk.
func TestChainUnary(t *testing.T) {
	var trace []string
	logged := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			trace = append(trace, name+">")
			resp, err := h(ctx, req)
			trace = append(trace, "<"+name)
			return resp, err
		}
	}
	twice := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		trace = append(trace, "twice>")
		if _, err := h(ctx, req); err == nil {
			t.Error("the first pass should fail")
		}
		return h(ctx, "second")
	}
	errFirst := errors.New("first pass")
	handler := func(_ context.Context, req any) (any, error) {
		trace = append(trace, "handler("+req.(string)+")")
		if req == "first" {
			return nil, errFirst
		}
		return "ok", nil
	}
	refuse := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		trace = append(trace, "refuse")
		return nil, errFirst
	}

	tests := []struct {
		name         string
		interceptors []grpc.UnaryServerInterceptor
		wantResp     any
		wantErr      error
		want         []string
	}{
		{"none", nil, nil, errFirst, []string{"handler(first)"}},
		{"outermost first", []grpc.UnaryServerInterceptor{logged("a"), logged("b")}, nil, errFirst,
			[]string{"a>", "b>", "handler(first)", "<b", "<a"}},
		{"a second call re-enters the inner levels", []grpc.UnaryServerInterceptor{logged("a"), twice, logged("c")}, "ok", nil,
			[]string{"a>", "twice>", "c>", "handler(first)", "<c", "c>", "handler(second)", "<c", "<a"}},
		{"a refusal stops the walk", []grpc.UnaryServerInterceptor{logged("a"), refuse, logged("c")}, nil, errFirst,
			[]string{"a>", "refuse", "<a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trace = nil
			chain := chainUnary(tt.interceptors...)
			// Twice: the chain keeps no state between calls.
			for range 2 {
				trace = nil
				resp, err := chain(context.Background(), "first", &grpc.UnaryServerInfo{FullMethod: "/x/Y"}, handler)
				if resp != tt.wantResp || !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, %v; want %v, %v", resp, err, tt.wantResp, tt.wantErr)
				}
				if !slices.Equal(trace, tt.want) {
					t.Errorf("trace %q, want %q", trace, tt.want)
				}
			}
		})
	}
}
