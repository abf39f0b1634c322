package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/tlstest"
)

func TestTLSOnTheRESTAndTheGRPCListener(t *testing.T) {
	pair := tlstest.New(t)
	env := apitest.Start(t, func(o *app.Options) { o.TLS = pair.Server })
	if !strings.HasPrefix(env.BaseURL, "https://") {
		t.Fatalf("base URL %s", env.BaseURL)
	}
	r := env.REST("POST", "/v1/members", apitest.AdminKey, map[string]any{"memberId": "tls-1"})
	if r.Status != http.StatusOK {
		t.Fatalf("REST over https: %d %s", r.Status, r.Raw)
	}
	m, err := loyaltyv1.NewMemberServiceClient(env.Conn).GetMember(env.Ctx(apitest.AdminKey), &loyaltyv1.GetMemberRequest{MemberId: "tls-1"})
	if err != nil || m.GetMember().GetMemberId() != "tls-1" {
		t.Fatalf("gRPC over TLS: %v %v", m, err)
	}

	// Plain text is not served next to TLS.
	resp, err := http.Get("http://" + strings.TrimPrefix(env.BaseURL, "https://") + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS listener")
		}
	}
	plain, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx, cancel := context.WithTimeout(env.Ctx(apitest.AdminKey), 2*time.Second)
	defer cancel()
	if _, err := loyaltyv1.NewClockServiceClient(plain).GetClock(ctx, &loyaltyv1.GetClockRequest{}); err == nil {
		t.Error("a plain-text gRPC call was answered on the TLS listener")
	}
}
