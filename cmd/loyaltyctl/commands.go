package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// client holds the connection; each command makes the service client it needs.
type client struct{ conn *grpc.ClientConn }

func (c *client) keys() loyaltyv1.ApiKeyServiceClient {
	return loyaltyv1.NewApiKeyServiceClient(c.conn)
}
func (c *client) members() loyaltyv1.MemberServiceClient {
	return loyaltyv1.NewMemberServiceClient(c.conn)
}
func (c *client) points() loyaltyv1.PointsServiceClient {
	return loyaltyv1.NewPointsServiceClient(c.conn)
}
func (c *client) program() loyaltyv1.ProgramServiceClient {
	return loyaltyv1.NewProgramServiceClient(c.conn)
}

func (c *client) ledger() loyaltyv1.LedgerServiceClient {
	return loyaltyv1.NewLedgerServiceClient(c.conn)
}

// requestIDHelp explains --request-id on every command that moves points.
const requestIDHelp = "idempotency key; pass the same one to retry safely (default: a new random one, so a retry would apply again)"

// requestID is the given --request-id or, without one, a random one.
func requestID(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "ctl-" + hex.EncodeToString(b), nil
}

// flagSet tells whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func init() {
	commands["keys"] = map[string]command{
		"create": {args: "--role ROLE --name NAME", help: "create an API key (admin); prints the secret once",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				role := fs.String("role", "", "admin, app, agent, marketer or auditor")
				name := fs.String("name", "", "what the key is for")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.keys().CreateApiKey(ctx, &loyaltyv1.CreateApiKeyRequest{Name: *name, Role: *role})
			}},
		"revoke": {args: "KEY_ID", help: "revoke an API key at once (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.keys().RevokeApiKey(ctx, &loyaltyv1.RevokeApiKeyRequest{KeyId: pos[0]})
			}},
		"list": {args: "", help: "list API keys without their secrets (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.keys().ListApiKeys(ctx, &loyaltyv1.ListApiKeysRequest{})
			}},
	}
	commands["members"] = map[string]command{
		"enroll": {args: "MEMBER_ID [--name NAME]", help: "enroll a member (returns the existing one if enrolled)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				name := fs.String("name", "", "display name")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.members().EnrollMember(ctx, &loyaltyv1.EnrollMemberRequest{MemberId: pos[0], DisplayName: *name})
			}},
		"get": {args: "MEMBER_ID", help: "show a member",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.members().GetMember(ctx, &loyaltyv1.GetMemberRequest{MemberId: pos[0]})
			}},
		"lots": {args: "MEMBER_ID [--include-spent]", help: "a member's lots of points with their expiry, next to be spent first",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				spent := fs.Bool("include-spent", false, "also list spent lots")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.points().ListLots(ctx, &loyaltyv1.ListLotsRequest{MemberId: pos[0], IncludeSpent: *spent})
			}},
	}
	commands["points"] = map[string]command{
		"earn": {args: "MEMBER_ID (--points N | --spend MINOR [--currency C]) [--request-id ID] [--order-id ID] [--reason TEXT]",
			help: "credit explicit points or what a spend earns (pass --request-id to make retries safe)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to credit")
				reqID := fs.String("request-id", "", requestIDHelp)
				orderID := fs.String("order-id", "", "the order the points are for")
				reason := fs.String("reason", "", "why the points are credited")
				spend := fs.Int64("spend", 0, "amount spent, in minor units (cents); the program's rate gives the points")
				currency := fs.String("currency", "", "currency of the spend (ISO 4217)")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id, err := requestID(*reqID)
				if err != nil {
					return nil, err
				}
				req := &loyaltyv1.EarnRequest{MemberId: pos[0], RequestId: id, Points: *points, OrderId: *orderID, Reason: *reason}
				if *spend != 0 || *currency != "" {
					req.Spend = &loyaltyv1.Money{AmountMinor: *spend, Currency: *currency}
				}
				return c.points().Earn(ctx, req)
			}},
		"redeem": {args: "MEMBER_ID --points N [--request-id ID] [--order-id ID] [--memo TEXT]",
			help: "spend available points (pass --request-id to make retries safe)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to spend")
				reqID := fs.String("request-id", "", requestIDHelp)
				orderID := fs.String("order-id", "", "the order the points pay for")
				memo := fs.String("memo", "", "a note on the entry")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id, err := requestID(*reqID)
				if err != nil {
					return nil, err
				}
				return c.points().Redeem(ctx, &loyaltyv1.RedeemRequest{MemberId: pos[0], RequestId: id, Points: *points, OrderId: *orderID, Memo: *memo})
			}},
		"balance": {args: "MEMBER_ID", help: "show a member's available, pending and held points",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.points().GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: pos[0]})
			}},
		"activity": {args: "MEMBER_ID [--page-size N] [--page-token T]", help: "a member's statement, newest first",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				size := fs.Int("page-size", 0, "entries per page, 1-200 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				if *size < 0 || *size > math.MaxInt32 {
					return nil, errUsage
				}
				return c.points().ListActivity(ctx, &loyaltyv1.ListActivityRequest{MemberId: pos[0], PageSize: int32(*size), PageToken: *token})
			}},
	}
	commands["ledger"] = map[string]command{
		"verify": {args: "", help: "prove the books balance (auditor)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.ledger().VerifyLedger(ctx, &loyaltyv1.VerifyLedgerRequest{})
			}},
	}
	commands["orders"] = map[string]command{
		"refund": {args: "--member ID --order ID [--amount MINOR] --request-id ID",
			help: "refund an order in full or in part: takes back its points, gives back points redeemed on it",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				member := fs.String("member", "", "the member whose order it is")
				order := fs.String("order", "", "the shop's order id")
				amount := fs.Int64("amount", 0, "minor units refunded (cents); omitted: the rest of the order, in full")
				reqID := fs.String("request-id", "", "idempotency key (required): pass the same one to retry safely")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				if *reqID == "" {
					return nil, errUsage
				}
				req := &loyaltyv1.RefundOrderRequest{MemberId: *member, OrderId: *order, RequestId: *reqID}
				if flagSet(fs, "amount") {
					req.RefundAmountMinor = amount
				}
				return c.points().RefundOrder(ctx, req)
			}},
		"get": {args: "--member ID --order ID", help: "what a member's order earned and how much of it was refunded",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				member := fs.String("member", "", "the member whose order it is")
				order := fs.String("order", "", "the shop's order id")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.points().GetOrder(ctx, &loyaltyv1.GetOrderRequest{MemberId: *member, OrderId: *order})
			}},
	}
	commands["reports"] = map[string]command{
		"liability": {args: "", help: "outstanding points by expiry month and the system accounts (auditor)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.ledger().GetLiabilityReport(ctx, &loyaltyv1.GetLiabilityReportRequest{})
			}},
	}
	commands["program"] = map[string]command{
		"get": {args: "", help: "show the program settings in force",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.program().GetProgram(ctx, &loyaltyv1.GetProgramRequest{})
			}},
	}
}
