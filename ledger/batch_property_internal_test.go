package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The batch property: a batch of commands applied as ONE batch leaves the same
// answers and the same rows as the same commands applied one per batch, in order,
// on a database in the same starting state. Entry and lot ids differ (a batch draws
// its ids at once) and are compared by their rank.

var propertyMembers = []string{"pa", "pb", "pc", "pd", "pe"}

// propertyLedger is a ledger on a fresh database with the property's members and
// their starting state: earnings, a redemption each (so reversals have lots to
// give back to), one member in debt (a claw-back), and pending earnings whose
// return window is over (for the release job), the same on every call.
func propertyLedger(t *testing.T) (*Service, *pgxpool.Pool, []Entry) {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	clock := fakeclock.At(applyT0)
	s := NewService(pool, tiers.NewService(pool, tiers.WithClock(clock)), WithClock(clock))
	var setup []Entry
	for i, m := range propertyMembers {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
		res, err := s.Earn(ctx, Actor{KeyID: "setup"}, Earn{MemberID: m, RequestID: "setup-earn", Points: int64(200 + 100*i)})
		if err != nil {
			t.Fatal(err)
		}
		setup = append(setup, res.Entry)
		e, err := s.Redeem(ctx, Actor{KeyID: "setup"}, Redeem{MemberID: m, RequestID: "setup-redeem", Points: int64(50 + 10*i)})
		if err != nil {
			t.Fatal(err)
		}
		setup = append(setup, e)
		// An order to refund, with points redeemed on it, and an order only
		// redeemed on.
		res, err = s.Earn(ctx, Actor{KeyID: "setup"}, Earn{MemberID: m, RequestID: "setup-order", OrderID: "so", SpendMinor: int64(3000 + 1000*i), Currency: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		setup = append(setup, res.Entry)
		for _, order := range []string{"so", "sr"} {
			e, err := s.Redeem(ctx, Actor{KeyID: "setup"}, Redeem{MemberID: m, RequestID: "setup-redeem-" + order, Points: int64(20 + 5*i), OrderID: order})
			if err != nil {
				t.Fatal(err)
			}
			setup = append(setup, e)
		}
	}
	// pe goes into debt: a refund's claw-back of more than it has.
	claw := plan{memberID: "pe", kind: KindRefund, requestID: "setup-claw", fingerprint: fingerprint("claw", 1),
		postings: []Posting{{AccountAvailable, -1000}, {AccountIssued, 1000}}, allowNegative: true, at: applyT0}
	out, err := s.appendAll(ctx, pool, []plan{claw})
	if err != nil || out[0].err != nil {
		t.Fatalf("claw-back: %v %v", err, out)
	}
	setup = append(setup, out[0].entry)
	for i, m := range propertyMembers[:3] {
		for j := range 2 {
			p := orderEarn(tiers.DefaultPolicy(), m, fmt.Sprintf("setup-pending-%d", j), fmt.Sprintf("setup-o%d", j), int64(100+10*i+j), applyT0)
			p.earn.credit, p.releaseTime = AccountPending, applyT0.Add(-time.Hour)
			out, err := s.appendAll(ctx, pool, []plan{p})
			if err != nil || out[0].err != nil {
				t.Fatalf("pending earning: %v %v", err, out)
			}
			setup = append(setup, out[0].entry)
		}
	}
	// Grants above an agent's limits, waiting for the batch's decisions.
	for _, cmd := range propertyApprovals {
		if res, err := s.GrantGoodwill(ctx, propertyAgent, cmd); err != nil || res.Approval == nil {
			t.Fatalf("setup approval: %+v %v", res, err)
		}
	}
	return s, pool, setup
}

var propertyAgent = Actor{KeyID: "setup-agent", GoodwillLimited: true}

// propertyApprovals wait for approval in the starting state, as approvals 1, 2, 3.
var propertyApprovals = []GrantGoodwill{
	{MemberID: "pa", RequestID: "setup-gw-1", Points: 600, ReasonCode: "OTHER", TicketID: "T-1"},
	{MemberID: "pb", RequestID: "setup-gw-2", Points: 700, ReasonCode: "OTHER", TicketID: "T-2"},
	{MemberID: "pc", RequestID: "setup-gw-3", Points: 800, ReasonCode: "OTHER", TicketID: "T-3"},
}

// propertyDecision is DecideApproval's plan for the starting approval i.
func propertyDecision(i int, approve bool) plan {
	cmd := propertyApprovals[i]
	p := plan{memberID: cmd.MemberID, kind: KindGoodwill, requestID: cmd.RequestID, fingerprint: fingerprint("goodwill", cmd),
		actorKeyID: propertyAgent.KeyID, decide: &approvalDecision{approvalID: int64(i + 1), approve: approve, decidedBy: "admin"}}
	if approve {
		p.postings, p.reasonCode, p.ticketID, p.lotExpire = goodwillPostings(cmd.Points, cmd.ReasonCode), cmd.ReasonCode, cmd.TicketID, applyT0.AddDate(1, 0, 0)
	}
	return p
}

// propertyBatch is a random batch of commands drawn from seed: earnings with and
// without an order and a spend (some pending), redemptions that sometimes
// overdraw, goodwill credits (some qualifying), reversals of the starting entries,
// goodwill grants of limited and unlimited keys and decisions on approvals,
// refunds (whole or in part, of the starting orders and of orders the batch earns),
// the jobs' releases of the starting pending earnings and expiries of lots due at
// some instant, repeats of earlier commands, and request ids reused with other
// bodies. It draws the same plans for the same seed.
func propertyBatch(seed uint64, setup []Entry) []plan {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	policy := tiers.DefaultPolicy()
	policy.Version = 1
	n := 40 + r.IntN(21)
	var plans []plan
	var orders []string
	var pending []Entry
	for _, e := range setup {
		if e.Delta(AccountPending) > 0 {
			pending = append(pending, e)
		}
	}
	member := func() string { return propertyMembers[r.IntN(len(propertyMembers))] }
	for i := range n {
		m := member()
		req := fmt.Sprintf("q%d", i)
		var p plan
		switch k := r.IntN(100); {
		case k < 12:
			p = explicitEarn(m, req, 1+r.Int64N(300), 5+r.IntN(400))
		case k < 30:
			order := fmt.Sprintf("o%d", i)
			if len(orders) > 0 && r.IntN(5) == 0 {
				order = orders[r.IntN(len(orders))] // a second earning of an order: refused
			}
			orders = append(orders, order)
			p = orderEarn(policy, m, req, order, 100+r.Int64N(900), applyT0)
			if r.IntN(4) == 0 {
				p.earn.credit, p.releaseTime = AccountPending, applyT0.AddDate(0, 0, 14)
			}
		case k < 50:
			p = redeemPlan(m, req, 1+r.Int64N(400))
		case k < 58:
			p = goodwillPlan(m, req, 1+r.Int64N(200))
			if r.IntN(2) == 0 {
				p.qualify = qualification(policy, applyT0, p.postings[0].Amount, 0)
			}
			// Most grants by an agent key whose limits the batch's grants soon reach.
			p.goodwill = &goodwillGrant{points: p.postings[0].Amount}
			if r.IntN(4) != 0 {
				p.goodwill.limited, p.goodwill.keyID, p.goodwill.day = true, "prop-agent", applyT0.Truncate(24*time.Hour)
				p.goodwill.perGrant, p.goodwill.perDay = 100, 200
			}
		case k < 62:
			p = propertyDecision(r.IntN(len(propertyApprovals)), r.IntN(3) != 0)
		case k < 72:
			order := []string{"so", "so", "sr", "none"}[r.IntN(4)]
			if len(orders) > 0 && r.IntN(3) == 0 {
				order = orders[r.IntN(len(orders))] // earned in the batch, or refused
			}
			var amount int64
			if order != "sr" && r.IntN(4) > 0 {
				amount = 100 + r.Int64N(1500)
			}
			p = refundCmd(m, order, req, amount)
		case k < 76:
			e := setup[r.IntN(len(setup))]
			if !reversible(e.Kind) || e.Delta(AccountPending) != 0 {
				e = setup[0]
			}
			p = reversalPlan(e.MemberID, req, e.ID, e.Postings)
			if e.OrderID != "" {
				// Decided against the order's refunds, as Reverse does.
				p.orderID, p.reverseOrder = e.OrderID, &orderReversal{original: e.Kind, campaigns: campaignGiveBacks(e)}
			}
		case k < 80:
			e := pending[r.IntN(len(pending))]
			p = plan{memberID: e.MemberID, kind: KindPendingRelease, requestID: systemRequestID("release", e.ID),
				fingerprint: fingerprint("release", e.ID), actorKeyID: "system", release: &pendingRef{entryID: e.ID, now: applyT0}}
		case k < 84:
			// Lots due some time from now: some of the batch's, or the setup's too.
			now := applyT0.AddDate(0, 0, 30+r.IntN(900))
			p = plan{memberID: m, kind: KindExpiry, actorKeyID: "system", expireLots: &lotsDue{now: now, nonce: fmt.Sprint("n", i)}}
		case k < 94 && len(plans) > 0:
			p = plans[r.IntN(len(plans))] // a repeat, as sent again
		case len(plans) > 0:
			prev := plans[r.IntN(len(plans))]
			if prev.expireLots != nil {
				prev.requestID = req // its id is set when it posts
			}
			p = redeemPlan(prev.memberID, prev.requestID, 1+r.Int64N(50)) // the id again, another body
		default:
			p = redeemPlan(m, req, 10)
		}
		p.at = applyT0
		plans = append(plans, p)
	}
	return plans
}

func TestOneBatchIsTheSameAsOneCommandPerBatch(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			a, poolA, setupA := propertyLedger(t)
			b, poolB, setupB := propertyLedger(t)
			if fmt.Sprint(setupA) != fmt.Sprint(setupB) {
				t.Fatalf("the two databases start apart:\n%v\n%v", setupA, setupB)
			}
			plansA, plansB := propertyBatch(seed, setupA), propertyBatch(seed, setupB)

			outA, err := a.appendAll(ctx, poolA, plansA)
			if err != nil {
				t.Fatalf("one batch: %v", err)
			}
			outB := make([]outcome, len(plansB))
			for i, p := range plansB {
				o, err := b.appendAll(ctx, poolB, []plan{p})
				if err != nil {
					t.Fatalf("command %d alone: %v", i, err)
				}
				outB[i] = o[0]
			}

			ranksA, ranksB := idRanks(t, poolA, entryIDs), idRanks(t, poolB, entryIDs)
			approvalsA, approvalsB := idRanks(t, poolA, approvalIDs), idRanks(t, poolB, approvalIDs)
			var posted, refused, replayed, approvals int
			jobs := map[string]int{} // the jobs' commands, by kind and answer
			for i := range plansA {
				ga, gb := answer(outA[i], ranksA, approvalsA), answer(outB[i], ranksB, approvalsB)
				if ga != gb {
					t.Errorf("command %d (%s %s of %s) answered\n one batch: %s\n one each:  %s",
						i, plansA[i].kind, plansA[i].requestID, plansA[i].memberID, ga, gb)
				}
				if outA[i].approval != nil {
					approvals++
				}
				switch o := outA[i]; {
				case o.err != nil:
					refused++
				case o.replayed:
					replayed++
				default:
					posted++
				}
				if p := plansA[i]; p.release != nil || p.expireLots != nil {
					o := outA[i]
					jobs[fmt.Sprintf("%s replayed %v skipped %v", p.kind, o.replayed, o.skipped)]++
				}
			}
			// The batch is a real test only if it posts, refuses, replays and asks
			// for approval.
			if posted == 0 || refused == 0 || replayed == 0 || approvals == 0 {
				t.Fatalf("seed %d posted %d, refused %d, replayed %d, asked approval %d: not a mixed batch", seed, posted, refused, replayed, approvals)
			}
			counts := map[string]int{}
			for _, q := range propertyTables {
				ra, rb := tableRows(t, poolA, q.sql), tableRows(t, poolB, q.sql)
				counts[q.name] = len(ra)
				if !slices.Equal(ra, rb) {
					t.Errorf("%s differ\n one batch:\n  %s\n one each:\n  %s", q.name, strings.Join(ra, "\n  "), strings.Join(rb, "\n  "))
				}
			}
			t.Logf("%d commands: %d posted, %d refused, %d replayed, %d answered with an approval; jobs %v; rows %v",
				len(plansA), posted, refused, replayed, approvals, jobs, counts)
		})
	}
}

const (
	entryIDs    = "SELECT entry_id FROM entries ORDER BY entry_id"
	approvalIDs = "SELECT approval_id FROM goodwill_approvals ORDER BY approval_id"
)

// idRanks maps each id the query lists, in order, to its rank.
func idRanks(t *testing.T, pool *pgxpool.Pool, query string) map[int64]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ranks := map[int64]int{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ranks[id] = len(ranks) + 1
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ranks
}

// answer is a command's answer with its entry and approval ids as ranks.
func answer(o outcome, ranks, approvalRanks map[int64]int) string {
	if o.err != nil {
		if p, ok := problem.As(o.err); ok {
			return "refused " + p.Reason + fmt.Sprint(p.Metadata)
		}
		return "failed " + o.err.Error()
	}
	e := o.entry
	if a := o.approval; a != nil {
		return fmt.Sprintf("approval %d %s of %d for %s entry #%d replayed %v skipped %v, entry #%d",
			approvalRanks[a.ID], a.Status, a.Points, a.MemberID, ranks[a.EntryID], o.replayed, o.skipped, ranks[e.ID])
	}
	if r := o.refund; r != nil {
		var entries []int
		for _, e := range r.Entries {
			entries = append(entries, ranks[e.ID])
		}
		return fmt.Sprintf("refund %d voided %d clawed back %d returned %d entries %v order %d/%d %v taken %d returned %d replayed %v",
			r.AmountMinor, r.PointsVoided, r.PointsClawedBack, r.PointsReturned, entries, r.Order.RefundedMinor, r.Order.SpendMinor,
			r.Order.FullyRefunded, r.Order.PointsTakenBack, r.Order.PointsReturned, o.replayed)
	}
	return fmt.Sprintf("entry #%d %s %v after %d/%d/%d reverses #%d order %q replayed %v skipped %v points %d %s",
		ranks[e.ID], e.Kind, e.Postings, e.AvailableAfter, e.PendingAfter, e.HeldAfter, ranks[e.ReversesEntryID], e.OrderID,
		o.replayed, o.skipped, o.points, earnLines(o.breakdown))
}

// The rows the property compares, each table's as text with entry and lot ids
// replaced by their ranks (e.n, l.n), in an order that does not depend on ids.
const rankCTE = `WITH e AS (SELECT entry_id, row_number() OVER (ORDER BY entry_id) AS n FROM entries),
	l AS (SELECT lot_id, row_number() OVER (ORDER BY lot_id) AS n FROM lots) `

// expiryByRank is an entry's request id and fingerprint, an expiry's with the lot
// id its request id names as a rank, and without its fingerprint (a hash of that
// id): an expiry's id only has to be new.
const expiryByRank = `CASE WHEN x.kind = 'EXPIRY'
		THEN regexp_replace(x.request_id, ':\d+\.', ':l' || (SELECT n FROM l WHERE l.lot_id = substring(x.request_id FROM ':(\d+)\.')::bigint) || '.')
		ELSE x.request_id END, CASE WHEN x.kind = 'EXPIRY' THEN NULL ELSE x.fingerprint END`

var propertyTables = []struct{ name, sql string }{
	{"entries", rankCTE + `SELECT ROW(e.n, x.member_id, x.kind, x.accounts, x.amounts, x.available_after, x.pending_after,
		x.held_after, ` + expiryByRank + `, x.order_id, x.hold_id, (SELECT n FROM e r WHERE r.entry_id = x.reverses_entry_id),
		x.memo, x.actor_key_id, x.create_time, x.reason_code, x.ticket_id)::text AS row
		FROM entries x JOIN e USING (entry_id) ORDER BY 1`},
	{"lots", rankCTE + `SELECT ROW(l.n, x.member_id, (SELECT n FROM e WHERE e.entry_id = x.entry_id),
		(SELECT n FROM e WHERE e.entry_id = x.origin_entry_id), x.points, x.remaining, x.expire_time, x.create_time)::text
		FROM lots x JOIN l USING (lot_id) ORDER BY 1`},
	{"lot moves", rankCTE + `SELECT ROW(x.member_id, (SELECT n FROM l WHERE l.lot_id = x.lot_id), (SELECT n FROM e WHERE e.entry_id = x.entry_id),
		(SELECT n FROM e WHERE e.entry_id = x.source_entry_id), x.points)::text AS row FROM lot_moves x ORDER BY 1`},
	{"balances", `SELECT ROW(x.*)::text FROM member_balances x ORDER BY member_id`},
	{"orders", rankCTE + `SELECT ROW(x.member_id, x.order_id, (SELECT n FROM e WHERE e.entry_id = x.earn_entry_id), x.spend_minor,
		x.currency, x.earned_points, x.refunded_minor, x.fully_refunded, x.points_taken_back, x.points_returned, x.tier_id, x.perks,
		x.metric_points, x.metric_spend, x.metric_day, x.metric_points_taken, x.metric_spend_taken)::text
		FROM orders x ORDER BY x.member_id, x.order_id`},
	{"system accounts", `SELECT account || ' ' || sum(amount) FROM system_deltas GROUP BY account ORDER BY account`},
	{"pending releases", rankCTE + `SELECT ROW((SELECT n FROM e WHERE e.entry_id = x.entry_id), x.member_id, x.order_id, x.points,
		x.release_time, x.released, x.lot_expire_time)::text AS row FROM pending_releases x ORDER BY 1`},
	{"metric moves", rankCTE + `SELECT ROW(x.member_id, (SELECT n FROM e WHERE e.entry_id = x.entry_id), x.order_id, x.day, x.points,
		x.spend_minor, x.create_time)::text AS row FROM tier_metric_moves x ORDER BY 1`},
	{"tier history", `SELECT ROW(x.member_id, x.from_tier, x.to_tier, x.reason, x.metric, x.period_end, x.grace_end,
		x.membership_id, x.policy_version, x.create_time)::text FROM tier_history x ORDER BY x.change_id`},
	{"refunds", rankCTE + `SELECT ROW(x.member_id, x.request_id, x.order_id, x.fingerprint, x.amount_minor, x.points_voided,
		x.points_clawed_back, x.points_returned, (SELECT n FROM e WHERE e.entry_id = x.take_entry_id),
		(SELECT n FROM e WHERE e.entry_id = x.return_entry_id), x.order_refunded_minor, x.order_fully_refunded,
		x.order_points_taken_back, x.order_points_returned, x.create_time)::text FROM refunds x ORDER BY 1`},
	{"member tiers", `SELECT ROW(x.member_id, x.tier_id, x.period_end, x.grace_end, x.update_time)::text FROM member_tiers x ORDER BY 1`},
	// Approval ids of the batch differ like entry ids (ids drawn and not used):
	// approvals are compared in id order, without their ids.
	{"approvals", rankCTE + `SELECT ROW(x.member_id, x.request_id, x.fingerprint, x.points, x.reason_code, x.ticket_id, x.note,
		x.requested_by, x.status, x.decided_by, x.decide_time, (SELECT n FROM e WHERE e.entry_id = x.entry_id), x.create_time)::text
		FROM goodwill_approvals x ORDER BY x.approval_id`},
	{"goodwill usage", `SELECT ROW(x.*)::text FROM goodwill_usage x ORDER BY x.key_id, x.day`},
}

func tableRows(t *testing.T, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
