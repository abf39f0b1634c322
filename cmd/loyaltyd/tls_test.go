package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/proctest"
	"github.com/loyalty-engine/loyalty/internal/tlstest"
)

// loyaltyd with --tls-cert/--tls-key and --metrics-addr: REST over https, gRPC over
// TLS, and /metrics on its own address (plain HTTP) and no longer on REST.
func TestTLSOnBothListenersAndMetricsOnItsOwnAddress(t *testing.T) {
	pair := tlstest.New(t)
	certFile, keyFile := pair.Files(t)
	dbURL := dbtest.EmptyDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	httpAddr, grpcAddr, metricsAddr := proctest.FreeAddr(t), proctest.FreeAddr(t), proctest.FreeAddr(t)
	log := &proctest.Output{}
	env := map[string]string{"LOYALTY_TLS_CERT": certFile, "LOYALTY_TLS_KEY": keyFile, "LOYALTY_METRICS_ADDR": metricsAddr}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--database-url", dbURL, "--http-addr", httpAddr, "--grpc-addr", grpcAddr,
			"--admin-key", "lk_test_admin_secret_0123456789", "--shutdown-timeout", "5s"},
			func(k string) string { return env[k] }, &bytes.Buffer{}, log)
	}()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: pair.Client()}}
	get := func(c *http.Client, url string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer lk_test_admin_secret_0123456789")
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := get(client, "https://"+httpAddr+"/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready over https; log:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(client, "https://"+httpAddr+"/v1/members/nobody"); code != http.StatusNotFound {
		t.Errorf("REST over https: %d %s, want 404", code, body)
	}
	if code, _ := get(http.DefaultClient, "http://"+httpAddr+"/healthz"); code == http.StatusOK {
		t.Error("plain HTTP is served on the TLS listener")
	}

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(pair.Client())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	callCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer lk_test_admin_secret_0123456789")
	if _, err := loyaltyv1.NewClockServiceClient(conn).GetClock(callCtx, &loyaltyv1.GetClockRequest{}); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}

	if code, body := get(http.DefaultClient, "http://"+metricsAddr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "grpc_server_handled_total") {
		t.Errorf("metrics address: %d, want 200 with the gRPC metrics", code)
	}
	if code, _ := get(client, "https://"+httpAddr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the REST listener: %d, want 404 once it has its own address", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not shut down")
	}
}

func TestTLSNeedsBothACertificateAndAKey(t *testing.T) {
	for _, args := range [][]string{{"--tls-cert", "cert.pem"}, {"--tls-key", "key.pem"}} {
		_, err := parseConfig(args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--tls-cert and --tls-key") {
			t.Errorf("%v: %v, want a refusal naming both flags", args, err)
		}
	}
	_, err := parseConfig(nil, func(k string) string {
		return map[string]string{"LOYALTY_TLS_CERT": "cert.pem"}[k]
	}, io.Discard)
	if err == nil {
		t.Error("LOYALTY_TLS_CERT alone was accepted")
	}
	// A pair that does not load stops loyaltyd before it starts anything.
	err = run(context.Background(), []string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "TLS: load certificate /nonexistent/cert.pem") {
		t.Errorf("missing files: %v", err)
	}
}
