package chaostest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/jobs"
)

// outageCallTimeout is the servers' call deadline here: long, so that an answer
// well before it shows the call failed fast instead of waiting for it.
const outageCallTimeout = 30 * time.Second

// outageEnv is a whole server (gRPC, REST, jobs) in this process on a cluster of
// its own, which the test takes away and brings back.
type outageEnv struct {
	pg      *cluster
	pool    *pgxpool.Pool
	app     *app.App
	baseURL string
	points  loyaltyv1.PointsServiceClient
	ledger  loyaltyv1.LedgerServiceClient
	members loyaltyv1.MemberServiceClient
}

func startOutageEnv(t *testing.T) *outageEnv {
	t.Helper()
	// Durable: with synchronous_commit off, a crash right after a write may lose it,
	// and the test would blame the outage handling for PostgreSQL's trade-off.
	pg := startCluster(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := database.Migrate(ctx, pg.url(), nil); err != nil {
		t.Fatal(err)
	}
	pool, err := database.Open(ctx, pg.url(), 8)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, pool, log, app.Options{AdminKey: adminKey, TimeTravel: true, CallTimeout: outageCallTimeout})
	if err != nil {
		t.Fatal(err)
	}
	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Server.Serve(ctx, grpcLis, httpLis) }()
	runner, err := jobs.New(pool, a.Ledger, a.Tiers, log, jobs.Options{Every: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		_ = runner.Stop(stopCtx)
		pool.Close()
	})
	return &outageEnv{
		pg: pg, pool: pool, app: a, baseURL: "http://" + httpLis.Addr().String(),
		points: loyaltyv1.NewPointsServiceClient(conn), ledger: loyaltyv1.NewLedgerServiceClient(conn),
		members: loyaltyv1.NewMemberServiceClient(conn),
	}
}

// logJobs logs the job queue's state, to tell why a job did not run.
func (e *outageEnv) logJobs(t *testing.T) {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT kind, state, attempt, scheduled_at, errors::text
		FROM river_job ORDER BY id DESC LIMIT 20`)
	if err != nil {
		t.Logf("river_job: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var attempt int
		var scheduled time.Time
		var errs *string
		if err := rows.Scan(&kind, &state, &attempt, &scheduled, &errs); err != nil {
			t.Logf("river_job: %v", err)
			return
		}
		msg := ""
		if errs != nil {
			msg = *errs
		}
		t.Logf("job %s %s attempt %d scheduled %s %s", kind, state, attempt, scheduled.Format(time.RFC3339Nano), msg)
	}
	var leader string
	err = e.pool.QueryRow(context.Background(), "SELECT leader_id || ' until ' || expires_at::text FROM river_leader").Scan(&leader)
	t.Logf("leader: %s (%v); now %s", leader, err, time.Now().UTC().Format(time.RFC3339Nano))
}

func adminCtx() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminKey)
}

// takeDown crashes PostgreSQL and waits (bounded) until /readyz says so.
func (e *outageEnv) takeDown(t *testing.T) {
	t.Helper()
	e.pg.crash()
	if err := waitFor(15*time.Second, func() bool { return readyz(e.baseURL) == http.StatusServiceUnavailable }); err != nil {
		t.Fatalf("/readyz still answers %d with PostgreSQL down", readyz(e.baseURL))
	}
}

// wantUnavailable checks a call's error is UNAVAILABLE with its reason and a
// RetryInfo, answered before the call deadline came near.
func wantUnavailable(t *testing.T, what string, took time.Duration, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("%s with PostgreSQL down: %v, want UNAVAILABLE", what, err)
	}
	var reason string
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch x := d.(type) {
		case *errdetails.ErrorInfo:
			reason = x.Reason
		case *errdetails.RetryInfo:
			retry = x
		}
	}
	if reason != "DATABASE_UNAVAILABLE" || retry == nil || retry.GetRetryDelay().AsDuration() != time.Second {
		t.Fatalf("%s: reason %q, RetryInfo %v; want DATABASE_UNAVAILABLE and a retry delay of 1 s", what, reason, retry)
	}
	// Generous for a busy machine, yet far from the deadline the call would have
	// waited for had it not failed fast.
	if took > outageCallTimeout/3 {
		t.Fatalf("%s took %s to fail, want it to fail fast (call deadline %s)", what, took, outageCallTimeout)
	}
}

// A database outage: /readyz says 503 while PostgreSQL is down and 200 within 5 s of
// its return, without restarting the server; calls meanwhile fail fast with
// UNAVAILABLE and a retry delay, and change nothing; the jobs resume afterwards.
func TestDatabaseOutageFailsFastAndRecovers(t *testing.T) {
	t.Parallel() // each test has a cluster of its own
	e := startOutageEnv(t)
	ctx := adminCtx()
	if _, err := e.members.EnrollMember(ctx, &loyaltyv1.EnrollMemberRequest{MemberId: "olga"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.points.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: "olga", RequestId: "welcome", Points: 100}); err != nil {
		t.Fatal(err)
	}
	order, err := e.points.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: "olga", RequestId: "order-1", OrderId: "1",
		Spend: &loyaltyv1.Money{AmountMinor: 30000, Currency: "CNY"}})
	if err != nil {
		t.Fatal(err)
	}
	pending := order.GetPoints()
	if b, err := e.points.GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: "olga"}); err != nil || b.GetPending() != pending || pending == 0 {
		t.Fatalf("balance %v (%v), want %d pending", b, err, pending)
	}
	if code := readyz(e.baseURL); code != http.StatusOK {
		t.Fatalf("/readyz %d before the outage", code)
	}

	e.takeDown(t)
	for i := 0; i < 3; i++ { // the pool's idle connections, then new ones, all fail fast
		start := time.Now()
		_, err := e.points.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: "olga", RequestId: "during-outage", Points: 5})
		wantUnavailable(t, "earn", time.Since(start), err)
		start = time.Now()
		_, err = e.points.CreateHold(ctx, &loyaltyv1.CreateHoldRequest{MemberId: "olga", RequestId: "hold-during-outage", Points: 5})
		wantUnavailable(t, "hold", time.Since(start), err)
		start = time.Now()
		_, err = e.points.GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: "olga"})
		wantUnavailable(t, "balance", time.Since(start), err)
	}
	e.pg.restart()
	back := time.Now()
	if err := waitFor(5*time.Second, func() bool { return readyz(e.baseURL) == http.StatusOK }); err != nil {
		t.Fatalf("/readyz still %d 5 s after PostgreSQL came back", readyz(e.baseURL))
	}
	// Business time passes the order's return window (the offset is stored in the
	// database, so it moves once the database is back): the release job, which ran
	// into the outage, has work to do now.
	if _, _, err := e.app.Clock.Advance(ctx, 8*24*time.Hour); err != nil {
		t.Fatalf("advance the clock after the outage: %v", err)
	}
	t.Logf("ready %s after PostgreSQL came back", time.Since(back).Round(time.Millisecond))

	// The jobs resume: the order's points are released by the periodic job.
	if err := waitFor(60*time.Second, func() bool {
		b, err := e.points.GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: "olga"})
		return err == nil && b.GetPending() == 0 && b.GetAvailable() == 100+pending
	}); err != nil {
		b, err := e.points.GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: "olga"})
		e.logJobs(t)
		t.Fatalf("balance %v (%v) a minute after the outage: the release job did not resume", b, err)
	}

	// Nothing the failed calls asked for was done; their retries are done once.
	var written int
	if err := e.pool.QueryRow(context.Background(),
		"SELECT count(*) FROM entries WHERE request_id IN ('during-outage', 'hold-during-outage')").Scan(&written); err != nil || written != 0 {
		t.Fatalf("%d entries (%v) from calls that failed during the outage", written, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := e.points.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: "olga", RequestId: "during-outage", Points: 5}); err != nil {
			t.Fatalf("retry after the outage: %v", err)
		}
	}
	b, err := e.points.GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: "olga"})
	if err != nil || b.GetAvailable() != 105+pending {
		t.Fatalf("balance %v (%v), want the retried earn once", b, err)
	}
	v, err := e.ledger.VerifyLedger(ctx, &loyaltyv1.VerifyLedgerRequest{})
	if err != nil || !v.GetOk() {
		t.Fatalf("verify after the outage: %v %v", v, err)
	}
}

// REST answers a call during an outage 503 with Retry-After and the reason, and
// /readyz 503 (the Retry-After header comes from the gateway's error writer, which
// turns the status's RetryInfo into it).
func TestDatabaseOutageRESTAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel() // each test has a cluster of its own
	e := startOutageEnv(t)
	ctx := adminCtx()
	if _, err := e.members.EnrollMember(ctx, &loyaltyv1.EnrollMemberRequest{MemberId: "rita"}); err != nil {
		t.Fatal(err)
	}
	e.takeDown(t)
	l := newLoad(t, e.baseURL, time.Now())
	body := []byte(`{"requestId":"rest-during-outage","points":5}`)
	req, err := http.NewRequest(http.MethodPost, e.baseURL+"/v1/members/rita:earn", bytesReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := l.rest.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !containsReason(raw, "DATABASE_UNAVAILABLE") {
		t.Fatalf("REST earn during the outage: %d %s, want 503 DATABASE_UNAVAILABLE", resp.StatusCode, raw)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1 (second)", got)
	}
	e.pg.restart()
	if err := waitFor(5*time.Second, func() bool { return readyz(e.baseURL) == http.StatusOK }); err != nil {
		t.Fatalf("/readyz still %d 5 s after PostgreSQL came back", readyz(e.baseURL))
	}
}
