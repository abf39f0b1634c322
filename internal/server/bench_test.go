package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// Benchmarks of whole calls through the server (auth, interceptors, gateway) on the
// test cluster (fsync off). `make bench` measures durable throughput end to end and
// runs the earn benchmarks below for their allocations per call:
//
//	go test -run '^$' -bench . ./internal/server/
//	go test -run '^$' -bench 'RESTEarn|GRPCEarn' -benchtime 2000x ./internal/server/
//
// The earn benchmarks report B/op and allocs/op. Go counts every allocation of the
// process during the loop, so they include the ledger's committer and the pgx pool:
// the cost of one earn, whoever makes it. "serial" is one call at a time (every
// batch of the group commit holds one entry: the cleanest per-call figure);
// "parallel" has 16 callers per CPU, as in production, where batching spreads a
// commit's allocations over its entries.

const benchMembers = 500

// benchParallelism is callers per GOMAXPROCS in the parallel benchmarks.
const benchParallelism = 16

func benchEnv(b *testing.B) (*apitest.Env, string) {
	b.Helper()
	env := apitest.Start(b)
	key := env.Key(access.RoleApp)
	client := loyaltyv1.NewMemberServiceClient(env.Conn)
	for _, id := range benchMemberIDs() {
		if _, err := client.EnrollMember(env.Ctx(key), &loyaltyv1.EnrollMemberRequest{MemberId: id}); err != nil {
			b.Fatal(err)
		}
	}
	return env, key
}

func benchMemberIDs() []string {
	ids := make([]string, benchMembers)
	for i := range ids {
		ids[i] = "m" + strconv.Itoa(i)
	}
	return ids
}

// runSerialAndParallel runs call as the "serial" and "parallel" sub-benchmarks,
// both reporting allocations. call gets a number unique across both, for request
// ids, and a source of randomness of its own.
func runSerialAndParallel(b *testing.B, call func(n int64, r *rand.Rand) error) {
	var seq atomic.Int64
	b.Run("serial", func(b *testing.B) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if err := call(seq.Add(1), r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if err := call(seq.Add(1), r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// reportCPU reports the process's CPU time (user and system, every goroutine) per
// operation as cpu-us/op, when the function it returns is deferred. On a shared
// machine wall time per call moves with everyone else's load; the CPU the
// process spends per call much less so, and it is what the API layer costs:
// PostgreSQL's own work is in another process and not counted.
func reportCPU(b *testing.B) func() {
	before := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-before).Microseconds())/float64(b.N), "cpu-us/op")
	}
}

func processCPU() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// BenchmarkGRPCEarn earns through a gRPC client on a loopback connection: the
// allocations include the client's side of the call.
func BenchmarkGRPCEarn(b *testing.B) {
	env, key := benchEnv(b)
	client := loyaltyv1.NewPointsServiceClient(env.Conn)
	ctx := env.Ctx(key)
	members := benchMemberIDs()
	runSerialAndParallel(b, func(n int64, r *rand.Rand) error {
		_, err := client.Earn(ctx, &loyaltyv1.EarnRequest{
			MemberId: members[r.IntN(benchMembers)], RequestId: "g" + strconv.FormatInt(n, 10), Points: 10})
		return err
	})
}

// BenchmarkRESTEarn posts POST /v1/members/{memberId}:earn to the REST listener's
// handler without a socket: the front door (route, key, role, body), the gateway,
// the direct call into the handlers with every interceptor, the ledger. The request and
// its recorder are built per call (a dozen allocations, about what net/http's
// server spends per request, which is not in the figure).
func BenchmarkRESTEarn(b *testing.B) {
	env, key := benchEnv(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	handler, err := env.App.Server.HTTPHandler(ctx)
	if err != nil {
		b.Fatal(err)
	}
	paths := make([]string, benchMembers)
	for i, id := range benchMemberIDs() {
		paths[i] = "/v1/members/" + id + ":earn"
	}
	auth := "Bearer " + key
	runSerialAndParallel(b, func(n int64, r *rand.Rand) error {
		body := `{"requestId":"r` + strconv.FormatInt(n, 10) + `","points":"10"}`
		req := httptest.NewRequest(http.MethodPost, paths[r.IntN(benchMembers)], strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("POST %s: status %d: %s", req.URL.Path, rec.Code, rec.Body)
		}
		return nil
	})
}

func BenchmarkRESTBalance(b *testing.B) {
	env, key := benchEnv(b)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
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

// BenchmarkRESTReads reads through the REST listener's handler without a socket
// (the front door, the gateway, every interceptor, the query): the API layer's own
// cost per page-view read, with allocations. "serial" is one call at a time.
//
//	go test -run '^$' -bench RESTReads -benchtime 3s ./internal/server/
func BenchmarkRESTReads(b *testing.B) {
	env, key := benchEnv(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	handler, err := env.App.Server.HTTPHandler(ctx)
	if err != nil {
		b.Fatal(err)
	}
	auth := "Bearer " + key
	members := benchMemberIDs()
	for _, read := range []struct{ name, suffix string }{{"balance", "/balance"}, {"perks", "/perks"}, {"member", ""}} {
		paths := make([]string, len(members))
		for i, id := range members {
			paths[i] = "/v1/members/" + id + read.suffix
		}
		b.Run(read.name, func(b *testing.B) {
			runSerialAndParallel(b, func(_ int64, r *rand.Rand) error {
				req := httptest.NewRequest(http.MethodGet, paths[r.IntN(len(paths))], nil)
				req.Header.Set("Authorization", auth)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					return fmt.Errorf("GET %s: status %d: %s", req.URL.Path, rec.Code, rec.Body)
				}
				return nil
			})
		})
	}
}

// BenchmarkGRPCBalance reads a balance through a gRPC client on a loopback
// connection.
func BenchmarkGRPCBalance(b *testing.B) {
	env, key := benchEnv(b)
	client := loyaltyv1.NewPointsServiceClient(env.Conn)
	ctx := env.Ctx(key)
	members := benchMemberIDs()
	runSerialAndParallel(b, func(_ int64, r *rand.Rand) error {
		_, err := client.GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: members[r.IntN(benchMembers)]})
		return err
	})
}

// BenchmarkGRPCMember reads a member (its profile and effective tier) through a
// gRPC client on a loopback connection.
func BenchmarkGRPCMember(b *testing.B) {
	env, key := benchEnv(b)
	client := loyaltyv1.NewMemberServiceClient(env.Conn)
	ctx := env.Ctx(key)
	members := benchMemberIDs()
	runSerialAndParallel(b, func(_ int64, r *rand.Rand) error {
		_, err := client.GetMember(ctx, &loyaltyv1.GetMemberRequest{MemberId: members[r.IntN(benchMembers)]})
		return err
	})
}
