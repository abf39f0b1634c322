package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Member imports (docs/IMPORT_EXPORT.md): members brought from another system with
// their opening balance, the tier they start with and their qualifying metric so
// far. An import batch goes through the write path like any other (batch.go): its
// read step first enrolls the batch's new members (set-based, in member order),
// then locks every member of the batch and reads which were imported before; the
// apply step posts each member's OPENING entry from system:opening (its lot, its
// running balances, its event), moves the qualifying metric and starts the tier
// (tiers.Start); the write step writes it all, with one member_imports row per
// member, in a handful of statements.

// AccountOpening is the system account opening balances come from: minus what
// every import brought in, so the books balance and the liability report shows it.
const AccountOpening = "system:opening"

// KindOpening is an imported member's opening balance.
const KindOpening Kind = "OPENING"

// openingRequestID names the one OPENING entry of a member ('#': no caller's
// requestId can take it first).
const openingRequestID = "system#opening"

// Opening is one imported member. Its JSON names are the import file's columns,
// so a validation error names the column.
type Opening struct {
	MemberID    string    `json:"memberId" validate:"required,shopid"`
	DisplayName string    `json:"displayName" validate:"max=200"`
	JoinTime    time.Time `json:"joinTime"`
	// Points is the opening balance, available at once; Expire its lot's expiry
	// (zero: the program's expiry policy applied to the import's time).
	Points int64     `json:"openingBalance" validate:"gte=0,lte=1000000000000"`
	Expire time.Time `json:"openingExpiry"`
	// TierID is the qualified tier the member starts with ("": what Metric earns).
	TierID string `json:"tierId" validate:"omitempty,max=64"`
	// Metric is the qualifying metric so far, in the policy's metric (points, or
	// spend in minor units), counted on the import's day.
	Metric int64 `json:"tierMetric" validate:"gte=0,lte=1000000000000"`
}

// Opening errors.
var (
	// ErrImportConflict: the member was imported before from a row with other
	// values (an opening is posted once per member).
	ErrImportConflict = problem.New(problem.Conflict, "IMPORT_CONFLICT", "the member was imported before with other values")
)

// importConflict refuses a row for a member imported before with other values.
func importConflict(memberID string) error {
	return ErrImportConflict.With("member %q was imported before with other values", memberID).
		WithField("memberId", "was imported before with other values")
}

// CheckOpening is the rule for an importable member, beyond the field formats:
// the tier is one of the policy's, the opening points expire after now, and the
// member did not join in the future. It names the column at fault.
func CheckOpening(o Opening, policy tiers.Policy, now time.Time) error {
	if err := validation.Struct(o); err != nil {
		return err
	}
	switch {
	case o.TierID != "" && policy.Index(o.TierID) < 0:
		return problem.InvalidField("tierId", fmt.Sprintf("is not a tier of the policy (%s)", tierIDs(policy)))
	case o.Points > 0 && !o.Expire.IsZero() && !o.Expire.After(now):
		return problem.InvalidField("openingExpiry", "must be after the import's time: the points would be expired already")
	case o.JoinTime.After(now):
		return problem.InvalidField("joinTime", "must not be in the future")
	}
	return nil
}

func tierIDs(p tiers.Policy) string {
	var ids []byte
	for i, t := range p.Tiers {
		if i > 0 {
			ids = append(ids, ", "...)
		}
		ids = append(ids, t.ID...)
	}
	return string(ids)
}

// OpeningStatus is what an import did with a member.
type OpeningStatus int

// Opening statuses.
const (
	OpeningFailed    OpeningStatus = iota
	OpeningImported                // enrolled (or found) and opened now
	OpeningUnchanged               // imported before from the same values
)

// OpeningResult is the answer for one member of an import batch.
type OpeningResult struct {
	Status OpeningStatus
	// Created: the import enrolled the member (else it existed).
	Created bool
	// EntryID is the OPENING entry (0: none, the member opened at zero).
	EntryID int64
	Err     error
}

// openingPlan is a member import's part of a plan.
type openingPlan struct {
	displayName string
	joinTime    time.Time
	tierID      string
	metric      int64
	policy      tiers.Policy
}

// openingPostings credits an imported member's opening balance from system:opening.
func openingPostings(points int64) []Posting {
	return []Posting{{AccountAvailable, points}, {AccountOpening, -points}}
}

// Open imports a batch of members in one transaction (CheckOpening first: a
// member that fails it is answered with its error, the others go on). The same
// member again with the same values is answered unchanged; with other values,
// ErrImportConflict. Batches of a few thousand are the efficient size.
func (s *Service) Open(ctx context.Context, batch []Opening) ([]OpeningResult, error) {
	out := make([]OpeningResult, len(batch))
	if len(batch) == 0 {
		return out, nil
	}
	prog, err := s.programOn(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	policy, err := s.tiers.PolicyOn(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	plans := make([]plan, 0, len(batch))
	index := make([]int, 0, len(batch))
	for i, o := range batch {
		if err := CheckOpening(o, policy, now); err != nil {
			out[i].Err = err
			continue
		}
		plans = append(plans, s.openingPlan(o, prog, policy, now))
		index = append(index, i)
	}
	var res []outcome
	err = s.retry(ctx, func() error {
		var err error
		res, err = s.appendAll(ctx, s.pool, plans)
		return err
	})
	if err != nil {
		return nil, err
	}
	for j, o := range res {
		r := &out[index[j]]
		r.Err, r.EntryID, r.Created = o.err, o.entry.ID, o.created
		switch {
		case o.err != nil:
		case o.replayed:
			r.Status = OpeningUnchanged
		default:
			r.Status = OpeningImported
		}
	}
	return out, nil
}

// openingPlan is the plan of one member's import.
func (s *Service) openingPlan(o Opening, prog Program, policy tiers.Policy, now time.Time) plan {
	expire := o.Expire
	if expire.IsZero() {
		expire = prog.LotExpiry(now)
	}
	joined := o.JoinTime
	if joined.IsZero() {
		joined = now
	}
	p := plan{memberID: o.MemberID, kind: KindOpening, requestID: openingRequestID, at: now,
		fingerprint: fingerprint("opening", o), lotExpire: expire, actorKeyID: "system",
		opening: &openingPlan{displayName: o.DisplayName, joinTime: joined.UTC(), tierID: o.TierID, metric: o.Metric, policy: policy}}
	if o.Points > 0 {
		p.postings = openingPostings(o.Points)
	}
	if o.Metric > 0 {
		if policy.Metric == tiers.MetricQualifyingSpend {
			p.qualify = qualification(policy, now, 0, o.Metric)
		} else {
			p.qualify = qualification(policy, now, o.Metric, 0)
		}
	}
	return p
}

// applyOpening is the apply step of a member's import: a repeat of the same row
// is answered unchanged, another row for an imported member refused; else the
// member's enrolment event (if the batch enrolled it), its OPENING entry and lot,
// its metric's move and its start tier (tiers.Start) join the write set.
func (st *batchState) applyOpening(p plan) outcome {
	o := p.opening
	if fp, ok := st.imported[p.memberID]; ok {
		if !slices.Equal(fp, p.fingerprint) {
			return outcome{err: importConflict(p.memberID)}
		}
		return outcome{replayed: true}
	}
	m := st.members[p.memberID]
	if m == nil {
		return outcome{err: ErrMemberNotFound.With("member %q not found", p.memberID)}
	}
	res := outcome{created: st.enrolled[p.memberID]}
	if res.created {
		delete(st.enrolled, p.memberID) // a second row of the member is not its enrolment
	}
	ev := importedEvent{memberID: p.memberID, displayName: o.displayName, joinTime: m.joinTime, created: res.created, at: p.at}
	e := Entry{ID: 0, MemberID: p.memberID, CreateTime: p.at}
	if len(p.postings) > 0 {
		if err := checkBalanced(p.postings); err != nil {
			return outcome{err: fmt.Errorf("OPENING entry for %s: %w", p.memberID, err)}
		}
		d, _, _ := split(p.postings)
		e = st.post(p, m, d)
		lotsBefore := len(st.out.newLots)
		if err := st.settleLots(p, m, e, d.available); err != nil {
			st.broken = err
			return outcome{err: err}
		}
		res.entry = e
		ev.opening, ev.points = &res.entry, d.available
		if len(st.out.newLots) > lotsBefore {
			ev.lot = st.out.newLots[lotsBefore].lot
		}
	}
	if q := p.qualify; q != nil {
		st.out.metricMoves = append(st.out.metricMoves, metricMoveRow{memberID: p.memberID, entryID: e.ID,
			day: q.day, points: q.points, spend: q.spend, at: e.CreateTime})
		st.moves[p.memberID] = append(st.moves[p.memberID], metricMove{day: q.day, points: q.points, spend: q.spend})
	}
	windowStart := o.policy.WindowStart(p.at)
	sum := st.metrics[metricKey{p.memberID, windowStart}]
	for _, mv := range st.moves[p.memberID] {
		if !mv.day.Before(windowStart) {
			sum.points += mv.points
			sum.spend += mv.spend
		}
	}
	metric := o.policy.MetricOf(sum.points, sum.spend)
	ts := st.tierOf(p.memberID)
	if next, change := tiers.Start(o.policy, ts.state, o.tierID, metric, p.at); change != nil {
		from := change.From
		if from == "" {
			from = o.policy.Bottom().ID
		}
		ts.state, ts.upgraded = next, true
		u := upgradeRow{memberID: p.memberID, from: from, to: next.TierID, metric: metric, reason: change.Reason,
			periodEnd: next.PeriodEnd, version: o.policy.Version, at: p.at}
		st.out.upgrades = append(st.out.upgrades, u)
		ev.started = &u
	}
	ev.tierID, ev.metric = cmp.Or(ts.state.TierID, o.policy.Bottom().ID), metric
	st.out.events = append(st.out.events, ev.event())
	st.imported[p.memberID] = p.fingerprint
	st.out.imports = append(st.out.imports, importRow{memberID: p.memberID, fingerprint: p.fingerprint, entryID: e.ID, at: p.at})
	return res
}

// importRow is a member_imports row.
type importRow struct {
	memberID    string
	fingerprint []byte
	entryID     int64
	at          time.Time
}

// CheckOpenings answers what Open would for a batch, writing nothing (an import's
// dry run): each member's CheckOpening, and a conflict for a member imported
// before, or earlier in the batch, with other values.
func (s *Service) CheckOpenings(ctx context.Context, batch []Opening) ([]OpeningResult, error) {
	out := make([]OpeningResult, len(batch))
	policy, err := s.tiers.PolicyOn(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	ids := make([]string, 0, len(batch))
	for _, o := range batch {
		ids = append(ids, o.MemberID)
	}
	rows, err := s.q.ImportFingerprints(ctx, s.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("imported members: %w", err)
	}
	seen := make(map[string][]byte, len(rows)+len(batch))
	for _, r := range rows {
		seen[r.MemberID] = r.Fingerprint
	}
	for i, o := range batch {
		if err := CheckOpening(o, policy, now); err != nil {
			out[i].Err = err
			continue
		}
		fp := fingerprint("opening", o)
		switch before, ok := seen[o.MemberID]; {
		case !ok:
			seen[o.MemberID] = fp
			out[i].Status = OpeningImported
		case slices.Equal(before, fp):
			out[i].Status = OpeningUnchanged
		default:
			out[i].Err = importConflict(o.MemberID)
		}
	}
	return out, nil
}
