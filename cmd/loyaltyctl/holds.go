package main

import (
	"context"
	"flag"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

func (c *client) goodwill() loyaltyv1.GoodwillServiceClient {
	return loyaltyv1.NewGoodwillServiceClient(c.conn)
}

// Holds, reversals and goodwill: the ledger's other writes. Each takes its request
// id from c.requestID, like every write.
func init() {
	commands["holds"] = map[string]command{
		"place": {args: "MEMBER_ID --points N [--ttl DURATION] [--order-id ID] [--request-id ID]",
			help: "set points aside for a checkout (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to hold")
				ttl := fs.Duration("ttl", 0, "how long the hold lasts before it is released (default 15m, at most 720h)")
				orderID := fs.String("order-id", "", "the order the points are held for")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				req := &loyaltyv1.CreateHoldRequest{MemberId: pos[0], RequestId: c.requestID(fs, pos), Points: *points, OrderId: *orderID}
				if flagSet(fs, "ttl") {
					req.Ttl = durationpb.New(*ttl)
				}
				return c.points().CreateHold(ctx, req)
			}},
		"capture": {args: "HOLD_ID [--points N] [--request-id ID]",
			help: "redeem all of a hold, or part of it (the rest goes back); once, see --request-id",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to capture (default: the whole hold)")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.points().CaptureHold(ctx, &loyaltyv1.CaptureHoldRequest{HoldId: pos[0], RequestId: c.requestID(fs, pos), Points: *points})
			}},
		"void": {args: "HOLD_ID [--request-id ID]", help: "release a hold: its points are available again (once, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.points().VoidHold(ctx, &loyaltyv1.VoidHoldRequest{HoldId: pos[0], RequestId: c.requestID(fs, pos)})
			}},
		"get": {args: "HOLD_ID", help: "show a hold and its status",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.points().GetHold(ctx, &loyaltyv1.GetHoldRequest{HoldId: id})
			})},
	}
	commands["entries"] = map[string]command{
		"reverse": {args: "ENTRY_ID --reason TEXT [--request-id ID]",
			help: "correct a mistake with a reversing entry (admin); an entry is reversed once",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				reason := fs.String("reason", "", "why the entry is reversed")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.points().ReverseEntry(ctx, &loyaltyv1.ReverseEntryRequest{EntryId: pos[0], RequestId: c.requestID(fs, pos), Reason: *reason})
			}},
	}
	commands["goodwill"] = map[string]command{
		"grant": {args: "MEMBER_ID --points N --reason-code CODE --ticket ID [--note TEXT] [--request-id ID]",
			help: "grant goodwill points (agent keys: above their limits it waits for approval); once, see --request-id",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to grant")
				code := fs.String("reason-code", "", "LATE_DELIVERY, DAMAGED_ITEM, WRONG_ITEM, MISSING_ITEM, REFUND_DELAY, SERVICE_COMPLAINT or OTHER")
				ticket := fs.String("ticket", "", "the support ticket")
				note := fs.String("note", "", "a note for the member's history")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.goodwill().GrantGoodwill(ctx, &loyaltyv1.GrantGoodwillRequest{MemberId: pos[0], RequestId: c.requestID(fs, pos),
					Points: *points, ReasonCode: *code, TicketId: *ticket, Note: *note})
			}},
		"approvals": {args: "[--status S] [--page-size N] [--page-token T]", help: "goodwill grants waiting for (or past) approval (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				status := fs.String("status", "", "PENDING, APPROVED or REJECTED (default: all)")
				size := fs.Int("page-size", 0, "approvals per page")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				n, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return c.goodwill().ListApprovals(ctx, &loyaltyv1.ListApprovalsRequest{Status: *status, PageSize: n, PageToken: *token})
			}},
		// Deciding twice cannot credit twice: a decided approval refuses another decision.
		"approve": {args: "APPROVAL_ID", help: "approve a waiting goodwill grant: its points are credited (admin)",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.goodwill().ApproveGoodwill(ctx, &loyaltyv1.ApproveGoodwillRequest{ApprovalId: id})
			})},
		"reject": {args: "APPROVAL_ID", help: "reject a waiting goodwill grant (admin)",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.goodwill().RejectGoodwill(ctx, &loyaltyv1.RejectGoodwillRequest{ApprovalId: id})
			})},
	}
}
