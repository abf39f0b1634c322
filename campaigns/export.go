package campaigns

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/database"
)

// ExportCoupons calls each with every coupon of the campaign, in code order, from
// one cursor on one snapshot (docs/IMPORT_EXPORT.md): constant memory for any
// number of coupons. The SQL is here, not in sql/queries, because sqlc's :many
// collects every row before it returns.
func (s *Service) ExportCoupons(ctx context.Context, campaignID string, each func(Coupon) error) error {
	if _, err := s.Get(ctx, campaignID); err != nil {
		return err
	}
	now := s.clock.Now()
	return pgx.BeginTxFunc(ctx, database.ReadPool(ctx, s.pool), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT code, member_id, campaign_id, request_id, kind, amount_off_minor, percent_off,
			min_spend_minor, status, issue_time, valid_until, redeem_time, redeem_order_id, redeem_request_id, revoke_time,
			event_order_id, event_type, expiry_told_time
			FROM coupons WHERE campaign_id = $1 ORDER BY code`, campaignID)
		if err != nil {
			return fmt.Errorf("export coupons: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := pgx.RowToStructByPos[campaignsdb.Coupon](rows)
			if err != nil {
				return fmt.Errorf("export coupons: %w", err)
			}
			if err := each(toCoupon(r, now)); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}
