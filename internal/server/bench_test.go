package server_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// Benchmarks of whole calls through the server (auth, interceptors, gateway) on the
// test cluster (fsync off). `make bench` measures durable throughput end to end.
//
//	go test -run '^$' -bench . ./internal/server/

const benchMembers = 500

func benchEnv(b *testing.B) (*apitest.Env, string) {
	b.Helper()
	env := apitest.Start(b)
	key := env.Key(access.RoleApp)
	client := loyaltyv1.NewMemberServiceClient(env.Conn)
	for i := 0; i < benchMembers; i++ {
		if _, err := client.EnrollMember(env.Ctx(key), &loyaltyv1.EnrollMemberRequest{MemberId: fmt.Sprintf("m%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	return env, key
}

func BenchmarkGRPCEarn(b *testing.B) {
	env, key := benchEnv(b)
	client := loyaltyv1.NewPointsServiceClient(env.Conn)
	ctx := env.Ctx(key)
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			_, err := client.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: fmt.Sprintf("m%d", rand.IntN(benchMembers)), RequestId: fmt.Sprintf("g%d", n), Points: 10})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRESTEarn(b *testing.B) {
	env, key := benchEnv(b)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := fmt.Sprintf(`{"requestId":"r%d","points":10}`, n)
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/v1/members/m%d:earn", env.BaseURL, rand.IntN(benchMembers)), bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := httpClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

func BenchmarkRESTBalance(b *testing.B) {
	env, key := benchEnv(b)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/members/m%d/balance", env.BaseURL, rand.IntN(benchMembers)), nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := httpClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
