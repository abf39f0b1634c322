package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Streamed exports (docs/IMPORT_EXPORT.md): each reads one consistent snapshot
// (a repeatable-read, read-only transaction) through one cursor and hands the rows
// over one at a time, so an export of any size runs in constant memory, and what it
// sums to is what Verify and Liability see on that snapshot. The SQL is written
// here rather than in sql/queries: sqlc's :many collects every row in a slice
// before it returns, which is exactly what an export must not do.

// entryColumns are the entries table's columns in ledgerdb.Entry's order.
const entryColumns = `entry_id, member_id, kind, accounts, amounts, available_after, pending_after, held_after,
	request_id, fingerprint, order_id, hold_id, reverses_entry_id, memo, actor_key_id, create_time, reason_code, ticket_id`

// ExportPeriod bounds an export of entries: [From, To).
type ExportPeriod struct {
	From time.Time `json:"from" validate:"required"`
	To   time.Time `json:"to" validate:"required,gtfield=From"`
}

// ExportEntries calls each with every entry of every member created in the
// period, in entry order; an error from each stops the export and is returned.
func (s *Service) ExportEntries(ctx context.Context, period ExportPeriod, each func(Entry) error) error {
	if err := validation.Struct(period); err != nil {
		return err
	}
	return s.streamEntries(ctx, `SELECT `+entryColumns+` FROM entries
		WHERE create_time >= $1 AND create_time < $2 ORDER BY entry_id`, []any{period.From, period.To}, each)
}

// ExportStatement calls each with every entry of the member, oldest first (the
// statement's running balances read forwards).
func (s *Service) ExportStatement(ctx context.Context, memberID string, each func(Entry) error) error {
	if _, err := s.Member(ctx, memberID); err != nil {
		return err
	}
	return s.streamEntries(ctx, `SELECT `+entryColumns+` FROM entries WHERE member_id = $1 ORDER BY create_time, entry_id`, []any{memberID}, each)
}

func (s *Service) streamEntries(ctx context.Context, sql string, args []any, each func(Entry) error) error {
	return pgx.BeginTxFunc(ctx, database.ReadPool(ctx, s.pool), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// pgx reads the rows off the connection as they are scanned: one row in
		// memory at a time.
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("export entries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := pgx.RowToStructByPos[ledgerdb.Entry](rows)
			if err != nil {
				return fmt.Errorf("export entries: %w", err)
			}
			if err := each(toEntry(r)); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}
