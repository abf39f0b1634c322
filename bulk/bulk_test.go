package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var ctx = context.Background()

type engine struct {
	pool      *pgxpool.Pool
	ledger    *ledger.Service
	tiers     *tiers.Service
	campaigns *campaigns.Service
	clock     *fakeclock.Clock
}

func newEngine(t testing.TB) engine {
	t.Helper()
	clock := fakeclock.At(time.Now())
	pool := dbtest.NewPool(t)
	ti := tiers.NewService(pool, tiers.WithClock(clock))
	l := ledger.NewService(pool, ti, ledger.WithClock(clock))
	c := campaigns.NewService(pool, l, ti, clock)
	l.SetPromotions(c)
	return engine{pool: pool, ledger: l, tiers: ti, campaigns: c, clock: clock}
}

// service is a replica's bulk credits service (each call a new one: a restart).
func (e engine) service(chunk int) *bulk.Service {
	return bulk.NewService(e.pool, e.ledger, e.tiers, e.campaigns, e.clock, bulk.Options{Chunk: chunk, Page: 700})
}

func (e engine) seed(t testing.TB, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	if _, err := e.ledger.EnrollMany(ctx, ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

// bulkEntries counts the BULK_CREDIT entries of a bulk credit per member, and the
// members with other than one.
func (e engine) bulkEntries(t testing.TB, id int64) (members, wrong int) {
	t.Helper()
	err := e.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n <> 1) FROM (
		SELECT member_id, count(*) AS n FROM entries WHERE kind = 'BULK_CREDIT' AND request_id = $1 GROUP BY member_id) x`,
		ledger.BulkRequestID(id)).Scan(&members, &wrong)
	if err != nil {
		t.Fatal(err)
	}
	return members, wrong
}

func mustVerify(t testing.TB, l *ledger.Service) {
	t.Helper()
	if err := l.RollUpSystemBalances(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK {
		t.Fatalf("books do not verify: %+v", v.Discrepancies)
	}
}

func members(ids []string) []bulk.MemberPoints {
	out := make([]bulk.MemberPoints, len(ids))
	for i, id := range ids {
		out[i] = bulk.MemberPoints{MemberID: id}
	}
	return out
}

// A bulk credit of 4,000 members, its workers killed in the middle of chunks
// (their contexts cancelled while batches are in flight) and raced by a second
// replica, then restarted: each member has exactly one credit, the progress says
// so, and the books verify.
func TestBulkCreditExactlyOnceThroughCrashes(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "m", 4000)
	b, err := e.service(400).Create(ctx, bulk.Create{RequestID: "double11", Points: 500, Reason: "Double 11 thank-you",
		Target: bulk.Target{All: true}, ActorKeyID: "key_admin"})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 4; round++ {
		kctx, kill := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for replica := 0; replica < 2; replica++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.service(400).Work(kctx)
				if err != nil && kctx.Err() == nil {
					t.Errorf("work: %v", err)
				}
			}()
		}
		time.Sleep(time.Duration(150+100*round) * time.Millisecond)
		kill() // a SIGKILL mid-chunk: whatever was in flight commits whole or not at all
		wg.Wait()
	}
	if _, err := e.service(400).Work(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.service(400).Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != bulk.StatusSucceeded || got.Total != int64(len(ids)) || got.Done != int64(len(ids)) || got.Failed != 0 ||
		got.PointsCredited != 500*int64(len(ids)) {
		t.Fatalf("bulk credit %+v, want SUCCEEDED with %d done", got, len(ids))
	}
	n, wrong := e.bulkEntries(t, b.ID)
	if n != len(ids) || wrong != 0 {
		t.Fatalf("%d members credited, %d of them not exactly once; want %d, 0", n, wrong, len(ids))
	}
	bal, err := e.ledger.Balance(ctx, ids[3210])
	if err != nil || bal.Available != 500 || len(bal.Expiring) != 1 {
		t.Fatalf("balance %+v, %v: want 500 in one lot", bal, err)
	}
	mustVerify(t, e.ledger)
}

// Unknown members are failures with their reason; the others are credited.
func TestBulkCreditFailuresListed(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "f", 30)
	list := append(members(ids), bulk.MemberPoints{MemberID: "ghost-1"}, bulk.MemberPoints{MemberID: "ghost-2", Points: 7})
	list[3].Points = 900
	s := e.service(8)
	b, err := s.Create(ctx, bulk.Create{RequestID: "r1", Points: 100, Reason: "sorry", Target: bulk.Target{Members: list}, ActorKeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Work(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, b.ID)
	if got.Status != bulk.StatusSucceeded || got.Done != 30 || got.Failed != 2 || got.PointsCredited != 29*100+900 {
		t.Fatalf("bulk credit %+v", got)
	}
	fs, err := s.Failures(ctx, b.ID, -1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].MemberID != "ghost-1" || fs[0].Reason != "MEMBER_NOT_FOUND" || fs[1].MemberID != "ghost-2" {
		t.Fatalf("failures %+v", fs)
	}
	// A repeat answers the first; another body under the id is a conflict.
	again, err := s.Create(ctx, bulk.Create{RequestID: "r1", Points: 100, Reason: "sorry", Target: bulk.Target{Members: list}, ActorKeyID: "k"})
	if err != nil || again.ID != b.ID {
		t.Fatalf("repeat: %+v, %v", again, err)
	}
	if _, err := s.Create(ctx, bulk.Create{RequestID: "r1", Points: 101, Reason: "sorry", Target: bulk.Target{Members: list}, ActorKeyID: "k"}); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("another body: %v, want a conflict", err)
	}
	mustVerify(t, e.ledger)
}

// A campaign-funded bulk credit takes from the budget until it is spent, exactly,
// and ends there, however many members are left.
func TestBulkCreditStopsAtTheBudget(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "c", 40)
	c, err := e.campaigns.Create(ctx, "key_marketer", campaigns.Create{Definition: campaigns.Definition{
		DisplayName: "Thank-you", Type: campaigns.TypeBonus, BonusPoints: 1, Budget: campaigns.Budget{Points: 2250}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.campaigns.Activate(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	s := e.service(3)
	b, err := s.Create(ctx, bulk.Create{RequestID: "funded", Points: 500, Reason: "from the budget", CampaignID: c.ID,
		Target: bulk.Target{Members: members(ids)}, ActorKeyID: "key_marketer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Work(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, b.ID)
	if got.Status != bulk.StatusBudgetExhausted || got.PointsCredited != 2250 || got.Done != 5 || got.Failed != 0 {
		t.Fatalf("bulk credit %+v, want BUDGET_EXHAUSTED after 2250 points to 5 members", got)
	}
	var spent int64
	if err := e.pool.QueryRow(ctx, `SELECT coalesce(sum(a), 0) FROM entries, unnest(amounts) a WHERE kind = 'BULK_CREDIT' AND a > 0`).Scan(&spent); err != nil {
		t.Fatal(err)
	}
	after, _ := e.campaigns.Get(ctx, c.ID)
	if spent != 2250 || after.SpentPoints != 2250 {
		t.Fatalf("credited %d, budget spent %d: want 2250 both", spent, after.SpentPoints)
	}
	mustVerify(t, e.ledger)
}

// Pause stops at a chunk boundary, resume continues, cancel ends with what was
// credited kept. A step runs two chunks of 10 at once.
func TestBulkCreditPauseResumeCancel(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "p", 50)
	s := bulk.NewService(e.pool, e.ledger, e.tiers, e.campaigns, e.clock, bulk.Options{Chunk: 10, Parallel: 2})
	b, err := s.Create(ctx, bulk.Create{RequestID: "p1", Points: 10, Reason: "x", Target: bulk.Target{Members: members(ids)}, ActorKeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Step(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if b, err = s.Change(ctx, b.ID, bulk.Pause); err != nil || b.Status != bulk.StatusPaused {
		t.Fatalf("pause: %+v, %v", b, err)
	}
	if _, err := s.Work(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ = s.Get(ctx, b.ID); b.Done != 20 {
		t.Fatalf("paused, it went on: %+v", b)
	}
	if b, err = s.Change(ctx, b.ID, bulk.Resume); err != nil || b.Status != bulk.StatusRunning {
		t.Fatalf("resume: %+v, %v", b, err)
	}
	if _, _, err := s.Step(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if b, err = s.Change(ctx, b.ID, bulk.Cancel); err != nil || b.Status != bulk.StatusCancelled || b.Done != 40 {
		t.Fatalf("cancel: %+v, %v", b, err)
	}
	if _, err := s.Work(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.bulkEntries(t, b.ID); n != 40 {
		t.Fatalf("%d credited after cancel at 40", n)
	}
	if _, err := s.Change(ctx, b.ID, bulk.Resume); !errors.Is(err, bulk.ErrNotAllowed) {
		t.Fatalf("resume a cancelled one: %v", err)
	}
	mustVerify(t, e.ledger)
}

// A tier target takes members whose effective tier it is; a rule target those the
// CEL rule holds for; listing goes page by page.
func TestBulkCreditTierAndRuleTargets(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "t", 1500)
	// Gold by a paid membership for a few.
	for _, id := range ids[:3] {
		if _, err := e.tiers.BuyMembership(ctx, "k", tiers.BuyMembership{MemberID: id, RequestID: "buy-" + id, TierID: "gold",
			EndTime: e.clock.Now().Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	s := e.service(500)
	gold, err := s.Create(ctx, bulk.Create{RequestID: "gold", Points: 500, Reason: "gold thanks", Target: bulk.Target{Tier: "gold"}, ActorKeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := s.Create(ctx, bulk.Create{RequestID: "rule", Points: 5, Reason: "r", Target: bulk.Target{Rule: `member.memberId.endsWith("7")`}, ActorKeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Work(ctx); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Get(ctx, gold.ID); g.Status != bulk.StatusSucceeded || g.Total != 3 || g.Done != 3 {
		t.Fatalf("gold: %+v", g)
	}
	if r, _ := s.Get(ctx, rule.ID); r.Status != bulk.StatusSucceeded || r.Total != 150 || r.Done != 150 {
		t.Fatalf("rule: %+v", r)
	}
	mustVerify(t, e.ledger)
}

// Bad input names the field and records nothing.
func TestBulkCreditValidation(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	s := e.service(10)
	for name, tc := range map[string]struct {
		c     bulk.Create
		field string
	}{
		"no points":     {bulk.Create{RequestID: "a", Reason: "r", Target: bulk.Target{All: true}}, "points"},
		"no reason":     {bulk.Create{RequestID: "a", Points: 1, Target: bulk.Target{All: true}}, "reason"},
		"two targets":   {bulk.Create{RequestID: "a", Points: 1, Reason: "r", Target: bulk.Target{All: true, Tier: "gold"}}, "target"},
		"no target":     {bulk.Create{RequestID: "a", Points: 1, Reason: "r"}, "target"},
		"unknown tier":  {bulk.Create{RequestID: "a", Points: 1, Reason: "r", Target: bulk.Target{Tier: "diamond"}}, "target.tier"},
		"bad rule":      {bulk.Create{RequestID: "a", Points: 1, Reason: "r", Target: bulk.Target{Rule: "member.nope == 1"}}, "target.rule"},
		"bad csv":       {bulk.Create{RequestID: "a", Points: 1, Reason: "r", Target: bulk.Target{CSV: "m1,abc\n"}}, "target.csv"},
		"no campaign":   {bulk.Create{RequestID: "a", Points: 1, Reason: "r", Target: bulk.Target{All: true}, CampaignID: "cmp_nope"}, "campaignId"},
		"past expiry":   {bulk.Create{RequestID: "a", Points: 1, Reason: "r", Target: bulk.Target{All: true}, LotExpire: time.Now().Add(-time.Hour)}, "expiry"},
		"no request id": {bulk.Create{Points: 1, Reason: "r", Target: bulk.Target{All: true}}, "requestId"},
	} {
		_, err := s.Create(ctx, tc.c)
		pe, ok := problem.As(err)
		if !ok || pe.Kind != problem.Invalid || len(pe.Fields) == 0 || pe.Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want invalid %s", name, err, tc.field)
		}
	}
	list, err := s.List(ctx, 0, 10)
	if err != nil || len(list) != 0 {
		t.Fatalf("refused requests recorded %d bulk credits (%v)", len(list), err)
	}
}

// A CSV upload with per-row points.
func TestBulkCreditCSV(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	e.seed(t, "v", 3)
	s := e.service(10)
	b, err := s.Create(ctx, bulk.Create{RequestID: "csv", Points: 50, Reason: "r", ActorKeyID: "k",
		Target: bulk.Target{CSV: "memberId,points\nv-00000,70\nv-00001\nv-00002,5\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Work(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, b.ID); got.Done != 3 || got.PointsCredited != 125 {
		t.Fatalf("csv: %+v", got)
	}
}
