package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/audit/internal/auditdb"
	"github.com/loyalty-engine/loyalty/internal/database"
)

// EntryCall is a call whose effect is a ledger entry: its record is written in the
// entry's transaction if, and only if, that transaction writes the entry.
type EntryCall struct {
	Call *Pending
	// The entry's member and request id, which identify it.
	MemberID, RequestID string
}

// QueueForEntries adds to b, after the statements that write the calls' entries,
// the one statement that writes the records of the calls whose entry b wrote. Sent
// on the pool, b is one implicit transaction: the records commit with the entries or
// not at all. The caller calls sent once b's results are closed without error; tx is
// the transaction b was sent in, nil on the pool (b has committed then); in a
// transaction the records count as written once its runner reports the commit
// (Committed).
func QueueForEntries(b *pgx.Batch, calls []EntryCall) (sent func(tx pgx.Tx)) {
	if len(calls) == 0 {
		return func(pgx.Tx) {}
	}
	byID := make(map[string]*Pending, len(calls))
	var arg auditdb.InsertRecordsForEntriesParams
	for _, c := range calls {
		r := c.Call.Snapshot()
		byID[r.CallID] = c.Call
		arg.CallIds = append(arg.CallIds, r.CallID)
		arg.KeyIds = append(arg.KeyIds, r.KeyID)
		arg.Roles = append(arg.Roles, r.Role)
		arg.Methods = append(arg.Methods, r.Method)
		arg.Targets = append(arg.Targets, r.Target)
		arg.MemberIds = append(arg.MemberIds, r.MemberID)
		arg.RequestIds = append(arg.RequestIds, r.RequestID)
		arg.Times = append(arg.Times, r.Time)
		arg.EntryMemberIds = append(arg.EntryMemberIds, c.MemberID)
		arg.EntryRequestIds = append(arg.EntryRequestIds, c.RequestID)
	}
	return queueRecords(b, byID, func(db *database.Capture) error {
		_, err := auditdb.New().InsertRecordsForEntries(context.Background(), db, arg)
		return err
	})
}

// QueueForEffects adds to b, after the statements that write the calls' effects,
// the one statement that writes the records of calls whose effect is a row other
// than an entry (a goodwill grant recorded as an approval, a rejection). The caller
// queues only calls whose effect b writes: sent on the pool, b is one implicit
// transaction, so each record commits with its effect or not at all. sent is as
// QueueForEntries'.
func QueueForEffects(b *pgx.Batch, calls []*Pending) (sent func(tx pgx.Tx)) {
	if len(calls) == 0 {
		return func(pgx.Tx) {}
	}
	byID := make(map[string]*Pending, len(calls))
	var arg auditdb.InsertRecordsOfEffectsParams
	for _, c := range calls {
		r := c.Snapshot()
		byID[r.CallID] = c
		arg.CallIds = append(arg.CallIds, r.CallID)
		arg.KeyIds = append(arg.KeyIds, r.KeyID)
		arg.Roles = append(arg.Roles, r.Role)
		arg.Methods = append(arg.Methods, r.Method)
		arg.Targets = append(arg.Targets, r.Target)
		arg.MemberIds = append(arg.MemberIds, r.MemberID)
		arg.RequestIds = append(arg.RequestIds, r.RequestID)
		arg.Times = append(arg.Times, r.Time)
	}
	return queueRecords(b, byID, func(db *database.Capture) error {
		_, err := auditdb.New().InsertRecordsOfEffects(context.Background(), db, arg)
		return err
	})
}

// queueRecords queues on b the statement insert runs, which returns the call ids it
// wrote; sent marks those calls' records written by tx (see QueueForEntries).
func queueRecords(b *pgx.Batch, byID map[string]*Pending, insert func(*database.Capture) error) (sent func(tx pgx.Tx)) {
	var written []string
	sql, args := database.StatementOf(insert)
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		if written, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("write audit records: %w", err)
		}
		return nil
	})
	return func(tx pgx.Tx) {
		for _, id := range written {
			byID[id].staged(tx)
		}
	}
}
