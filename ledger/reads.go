package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Balance is a member's balances.
type Balance struct {
	MemberID  string
	Available int64
	Pending   int64
	Held      int64
	AsOf      time.Time // zero: now
	// Expiring is the next points to expire, by date (current balances only).
	Expiring []Expiring
}

// Expiring is how many available points expire at an instant.
type Expiring struct {
	Points     int64
	ExpireTime time.Time
}

// ExpiringDates is how many expiry dates a balance lists.
const ExpiringDates = 5

// Balance returns the member's current balances and next expiring points: one read.
func (s *Service) Balance(ctx context.Context, memberID string) (Balance, error) {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return Balance{}, err
	}
	row, err := s.q.GetBalanceWithExpiring(ctx, s.pool, ledgerdb.GetBalanceWithExpiringParams{MemberID: memberID, MaxDates: ExpiringDates})
	if errors.Is(err, pgx.ErrNoRows) {
		return Balance{}, ErrMemberNotFound.With("member %q not found", memberID)
	}
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %s: %w", memberID, err)
	}
	b := Balance{MemberID: memberID, Available: row.Available, Pending: row.Pending, Held: row.Held}
	for i, t := range row.ExpireTimes {
		b.Expiring = append(b.Expiring, Expiring{Points: row.ExpirePoints[i], ExpireTime: t})
	}
	return b, nil
}

// checkMember validates a member id and answers ErrMemberNotFound for an unknown
// member: one primary-key read, without the balance's expiring points. Its
// callers are reads that may lag: it reads where they read (ReadPool), so a
// member is found wherever its entries are.
func (s *Service) checkMember(ctx context.Context, memberID string) error {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return err
	}
	_, err := s.q.GetMemberBalance(ctx, database.ReadPool(ctx, s.pool), memberID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrMemberNotFound.With("member %q not found", memberID)
	}
	if err != nil {
		return fmt.Errorf("look up member %s: %w", memberID, err)
	}
	return nil
}

// Lot is points credited together, with their expiry and what is left of them.
type Lot struct {
	ID            int64
	MemberID      string
	EntryID       int64 // the crediting entry (zero: opened when lots were introduced)
	OriginEntryID int64 // the earning the points come from
	Points        int64
	Remaining     int64
	ExpireTime    time.Time
	CreateTime    time.Time
}

// MaxLots bounds a lot listing.
const MaxLots = 200

// Lots returns a member's open lots in the order they will be consumed (earliest
// expiry first), then, with includeSpent, spent ones, newest first.
func (s *Service) Lots(ctx context.Context, memberID string, includeSpent bool) ([]Lot, error) {
	if err := s.checkMember(ctx, memberID); err != nil {
		return nil, err
	}
	rows, err := s.q.ListMemberLots(ctx, database.ReadPool(ctx, s.pool), ledgerdb.ListMemberLotsParams{MemberID: memberID, IncludeSpent: includeSpent, MaxLots: MaxLots})
	if err != nil {
		return nil, fmt.Errorf("lots of %s: %w", memberID, err)
	}
	out := make([]Lot, len(rows))
	for i, r := range rows {
		out[i] = Lot{ID: r.LotID, MemberID: r.MemberID, Points: r.Points, Remaining: r.Remaining,
			ExpireTime: r.ExpireTime, CreateTime: r.CreateTime}
		if r.EntryID != nil {
			out[i].EntryID = *r.EntryID
		}
		if r.OriginEntryID != nil {
			out[i].OriginEntryID = *r.OriginEntryID
		}
	}
	return out, nil
}

// LotMove is an entry's consumption (negative) or give-back (positive) of a lot.
type LotMove struct {
	LotID         int64
	EntryID       int64
	SourceEntryID int64
	Points        int64
}

// LotMoves returns the lots an entry consumed or gave back.
func (s *Service) LotMoves(ctx context.Context, entryID int64) ([]LotMove, error) {
	rows, err := s.q.LotMovesOfEntry(ctx, s.pool, entryID)
	if err != nil {
		return nil, fmt.Errorf("lot moves of entry %d: %w", entryID, err)
	}
	out := make([]LotMove, len(rows))
	for i, r := range rows {
		out[i] = LotMove{LotID: r.LotID, EntryID: r.EntryID, SourceEntryID: r.SourceEntryID, Points: r.Points}
	}
	return out, nil
}

// BalanceAsOf returns the member's balances as they were at an instant: the running
// balances of the last entry at or before it.
func (s *Service) BalanceAsOf(ctx context.Context, memberID string, at time.Time) (Balance, error) {
	if err := s.checkMember(ctx, memberID); err != nil {
		return Balance{}, err
	}
	row, err := s.q.MemberBalanceAsOf(ctx, database.ReadPool(ctx, s.pool), ledgerdb.MemberBalanceAsOfParams{MemberID: memberID, AsOf: at})
	if errors.Is(err, pgx.ErrNoRows) {
		return Balance{MemberID: memberID, AsOf: at}, nil
	}
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %s as of %s: %w", memberID, at, err)
	}
	return Balance{MemberID: memberID, Available: row.AvailableAfter, Pending: row.PendingAfter, Held: row.HeldAfter, AsOf: at}, nil
}

// ListActivity asks for a page of a member's statement.
type ListActivity struct {
	MemberID  string    `json:"memberId" validate:"required,shopid"`
	PageSize  int32     `json:"pageSize" validate:"gte=0,lte=200"`
	PageToken string    `json:"pageToken" validate:"max=100"`
	Kinds     []string  `json:"kinds" validate:"dive,oneof=EARN REDEEM HOLD HOLD_CAPTURE HOLD_VOID HOLD_EXPIRE REVERSAL GOODWILL PENDING_RELEASE EXPIRY REFUND REFUND_RETURN CAMPAIGN OPENING ACTIVITY BIRTHDAY BULK_CREDIT REFERRAL"`
	StartTime time.Time `json:"startTime"`
	EndTime   time.Time `json:"endTime"`
}

// DefaultPageSize is the statement page size when none is asked for.
const DefaultPageSize = 50

// Activity is a page of the statement.
type Activity struct {
	Entries       []Entry
	NextPageToken string
}

// ListActivity returns the member's entries, newest first, keyset-paginated.
func (s *Service) ListActivity(ctx context.Context, q ListActivity) (Activity, error) {
	if err := validation.Struct(q); err != nil {
		return Activity{}, err
	}
	if !q.StartTime.IsZero() && !q.EndTime.IsZero() && !q.EndTime.After(q.StartTime) {
		return Activity{}, problem.InvalidField("endTime", "must be after startTime")
	}
	if err := s.checkMember(ctx, q.MemberID); err != nil {
		return Activity{}, err
	}
	page := activityPages(q)
	upperTime, upperID, err := s.activityUpper(ctx, q, page)
	if err != nil {
		return Activity{}, err
	}
	size := q.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	startTime := historyStart
	if !q.StartTime.IsZero() {
		startTime = q.StartTime
	}
	var rows []ledgerdb.Entry
	if len(q.Kinds) == 0 {
		rows, err = s.q.ListMemberEntries(ctx, database.ReadPool(ctx, s.pool), ledgerdb.ListMemberEntriesParams{
			MemberID: q.MemberID, UpperTime: upperTime, UpperID: upperID, StartTime: startTime, PageSize: size + 1})
	} else {
		rows, err = s.q.ListMemberEntriesOfKinds(ctx, database.ReadPool(ctx, s.pool), ledgerdb.ListMemberEntriesOfKindsParams{
			MemberID: q.MemberID, Kinds: q.Kinds, UpperTime: upperTime, UpperID: upperID, StartTime: startTime, PageSize: size + 1})
	}
	if err != nil {
		return Activity{}, fmt.Errorf("activity of %s: %w", q.MemberID, err)
	}
	var a Activity
	if len(rows) > int(size) {
		rows = rows[:size]
		a.NextPageToken = s.pageTokens.EncodeID(page, rows[len(rows)-1].EntryID)
	}
	a.Entries = make([]Entry, len(rows))
	for i, r := range rows {
		a.Entries[i] = toEntry(r)
	}
	return a, nil
}

// historyStart and historyEnd bound a statement without a time range: instants
// before and after any entry.
var (
	historyStart = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	historyEnd   = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// activityUpper is where a statement page starts, newest first: below the page
// token's entry (its time and id) or below the end of the time range, whichever
// is earlier. A member's entries are in time order by id (docs/LEDGER.md), so
// (time, id) below the token's entry is id below it, read as one index range.
func (s *Service) activityUpper(ctx context.Context, q ListActivity, page pagetoken.Query) (time.Time, int64, error) {
	upperTime, upperID := historyEnd, int64(0)
	if !q.EndTime.IsZero() {
		upperTime = q.EndTime
	}
	if q.PageToken == "" {
		return upperTime, upperID, nil
	}
	before, err := s.pageTokens.DecodeID(page, q.PageToken)
	if err != nil {
		return time.Time{}, 0, err
	}
	at, err := s.q.EntryTimeOf(ctx, database.ReadPool(ctx, s.pool), ledgerdb.EntryTimeOfParams{EntryID: before, MemberID: q.MemberID})
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, 0, problem.InvalidField("pageToken", "does not point into this statement")
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("page token of %s: %w", q.MemberID, err)
	}
	if at.Before(upperTime) {
		return at, before, nil
	}
	return upperTime, upperID, nil
}

// ActivityPageToken is the token of the statement page that starts just below an
// entry of the member (newest first): what a client holding an entry id can page
// on from, and how a benchmark reads any page without walking to it.
func (s *Service) ActivityPageToken(q ListActivity, beforeEntryID int64) string {
	return s.pageTokens.EncodeID(activityPages(q), beforeEntryID)
}

// activityPages is what a statement page token is bound to: the member and every
// filter (a token is good only for the statement it came from; the page size may
// change between pages).
func activityPages(q ListActivity) pagetoken.Query {
	return pagetoken.For("activity", q.MemberID, pagetoken.Set(q.Kinds), pagetoken.Time(q.StartTime), pagetoken.Time(q.EndTime))
}

// SystemBalance is a system account's balance.
type SystemBalance struct {
	Account string
	Balance int64
}

// SystemBalances returns every system account's balance, exact at any time (rolled
// up plus still queued).
func (s *Service) SystemBalances(ctx context.Context) ([]SystemBalance, error) {
	rows, err := s.q.SystemBalances(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("system balances: %w", err)
	}
	out := make([]SystemBalance, len(rows))
	for i, r := range rows {
		out[i] = SystemBalance{Account: r.Account, Balance: r.Balance}
	}
	return out, nil
}

// RollUpSystemBalances folds queued system postings into the system balances.
// Safe to run from several replicas at once.
func (s *Service) RollUpSystemBalances(ctx context.Context) error {
	if err := s.q.RollUpSystemDeltas(ctx, s.pool); err != nil {
		return fmt.Errorf("roll up system balances: %w", err)
	}
	return nil
}

// Entry returns one entry.
func (s *Service) Entry(ctx context.Context, entryID int64) (Entry, error) {
	row, err := s.q.GetEntry(ctx, s.pool, entryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, ErrEntryNotFound.With("entry %d not found", entryID)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("get entry %d: %w", entryID, err)
	}
	return toEntry(row), nil
}
