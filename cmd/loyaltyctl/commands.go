package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// client holds the connection; each command makes the service client it needs.
// stderr is where commands say what they chose for the caller (a derived request
// id).
type client struct {
	conn   *grpc.ClientConn
	stdout io.Writer // for commands that print as they go (events tail)
	stderr io.Writer
	// The REST side, for imports and exports (transfers.go): base URL, key and
	// the TLS CA file, if any.
	httpURL, key, tlsCA string
}

func (c *client) keys() loyaltyv1.ApiKeyServiceClient {
	return loyaltyv1.NewApiKeyServiceClient(c.conn)
}
func (c *client) members() loyaltyv1.MemberServiceClient {
	return loyaltyv1.NewMemberServiceClient(c.conn)
}
func (c *client) activities() loyaltyv1.ActivityServiceClient {
	return loyaltyv1.NewActivityServiceClient(c.conn)
}
func (c *client) referrals() loyaltyv1.ReferralServiceClient {
	return loyaltyv1.NewReferralServiceClient(c.conn)
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

func (c *client) tiers() loyaltyv1.TierServiceClient {
	return loyaltyv1.NewTierServiceClient(c.conn)
}

func (c *client) campaigns() loyaltyv1.CampaignServiceClient {
	return loyaltyv1.NewCampaignServiceClient(c.conn)
}

func (c *client) coupons() loyaltyv1.CouponServiceClient {
	return loyaltyv1.NewCouponServiceClient(c.conn)
}

func (c *client) afterSales() loyaltyv1.AfterSalesServiceClient {
	return loyaltyv1.NewAfterSalesServiceClient(c.conn)
}

// requestIDHelp explains --request-id on every command that writes.
const requestIDHelp = "idempotency key (default: derived from the command and its arguments, so a retry or a second run of the same command does nothing)"

// requestID is the idempotency key of a write: the given --request-id or, without
// one, a key derived from the command and its arguments (positional ones and the
// flags given, whatever their order or spelling), so that running the same command
// twice, by mistake or to retry after a timeout, applies it once. extra are inputs
// the arguments only name (a file's contents). It says on stderr when it derives
// one.
func (c *client) requestID(fs *flag.FlagSet, pos []string, extra ...string) string {
	if f := fs.Lookup("request-id"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	id := derivedRequestID(fs, pos, extra...)
	fmt.Fprintf(c.stderr, "request id %s: derived from the arguments, so running this again does nothing; pass --request-id to make another\n", id)
	return id
}

// derivedRequestID is "ctl-" and the first 16 hex digits of the SHA-256 of the
// command's name and its canonical arguments: the positional arguments in order,
// then the flags given (but --request-id) sorted by name, each with its value.
func derivedRequestID(fs *flag.FlagSet, pos []string, extra ...string) string {
	canonical := struct {
		Command string      `json:"command"`
		Args    []string    `json:"args"`
		Flags   [][2]string `json:"flags"`
		Extra   []string    `json:"extra,omitempty"`
	}{Command: fs.Name(), Args: pos, Flags: [][2]string{}, Extra: extra}
	fs.Visit(func(f *flag.Flag) { // in lexical order of names
		if f.Name != "request-id" {
			canonical.Flags = append(canonical.Flags, [2]string{f.Name, f.Value.String()})
		}
	})
	raw, _ := json.Marshal(canonical) // strings and slices of them always encode
	sum := sha256.Sum256(raw)
	return "ctl-" + hex.EncodeToString(sum[:])[:16]
}

// timeValue is a flag holding an RFC 3339 instant, spelled back as given (the
// derived request id reads it).
type timeValue struct {
	ts  *timestamppb.Timestamp
	raw string
}

func (v *timeValue) String() string { return v.raw }

func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time such as 2027-12-31T00:00:00Z: %q", s)
	}
	v.ts, v.raw = timestamppb.New(t), s
	return nil
}

// timeFlag defines a flag holding an RFC 3339 instant; a value that does not parse
// is a command-line mistake, reported by the flag package.
func timeFlag(fs *flag.FlagSet, name, usage string) **timestamppb.Timestamp {
	v := &timeValue{}
	fs.Var(v, name, usage)
	return &v.ts
}

// flagSet tells whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// int32Flag reads a non-negative int flag that must fit an int32; out of range is a
// command-line mistake.
func int32Flag(v int) (int32, error) {
	if v < 0 || v > math.MaxInt32 {
		return 0, errUsage
	}
	return int32(v), nil
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
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.keys().RevokeApiKey(ctx, &loyaltyv1.RevokeApiKeyRequest{KeyId: id})
			})},
		"list": {args: "", help: "list API keys without their secrets (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.keys().ListApiKeys(ctx, &loyaltyv1.ListApiKeysRequest{})
			}},
		"rate-limit":     rateLimitCommand,
		"set-rate-limit": setRateLimitCommand,
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
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.members().GetMember(ctx, &loyaltyv1.GetMemberRequest{MemberId: id})
			})},
		"perks": {args: "MEMBER_ID", help: "a member's tier, its perks and the progress towards the next tier",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.tiers().GetPerks(ctx, &loyaltyv1.GetPerksRequest{MemberId: id})
			})},
		"tier-history": {args: "MEMBER_ID [--page-size N] [--page-token T]", help: "a member's tier changes with their reasons, newest first",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				size := fs.Int("page-size", 0, "changes per page, 1-500 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				if *size < 0 || *size > math.MaxInt32 {
					return nil, errUsage
				}
				return c.tiers().ListTierHistory(ctx, &loyaltyv1.ListTierHistoryRequest{MemberId: pos[0], PageSize: int32(*size), PageToken: *token})
			}},
		"report-activity": {args: "MEMBER_ID --type TYPE [--key KEY] [--request-id ID]",
			help: "report a member's activity (a review, a share, a check-in): the ACTIVITY_REWARD campaigns' points for it (once per request id, and per type and key)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				typ := fs.String("type", "", "activity type: SHARE, REVIEW, REVIEW_WITH_PHOTO, CHECK_IN, PROFILE_COMPLETED or one an admin added")
				key := fs.String("key", "", "what the activity is about (the reviewed order line): the same type and key earn once")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				return c.activities().RecordActivity(ctx, &loyaltyv1.RecordActivityRequest{MemberId: pos[0], RequestId: id, Type: *typ, ActivityKey: *key})
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
	commands["referrals"] = map[string]command{
		"add": {args: "MEMBER_ID REFERRED_MEMBER_ID [--request-id ID]",
			help: "record that a member referred another (once per referred member, before their first order); the REFERRAL campaign pays both after that order's return window",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 2)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				return c.referrals().RecordReferral(ctx, &loyaltyv1.RecordReferralRequest{MemberId: pos[0], ReferredMemberId: pos[1], RequestId: id})
			}},
		"list": {args: "MEMBER_ID [--page-size N] [--page-token T]", help: "whom a member referred, newest first, with each referral's status and what it paid",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				size := fs.Int("page-size", 0, "referrals per page, 1-500 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				if *size < 0 || *size > math.MaxInt32 {
					return nil, errUsage
				}
				return c.referrals().ListReferrals(ctx, &loyaltyv1.ListReferralsRequest{MemberId: pos[0], PageSize: int32(*size), PageToken: *token})
			}},
	}
	commands["points"] = map[string]command{
		"earn": {args: "MEMBER_ID (--points N | --spend MINOR [--currency C]) [--request-id ID] [--order-id ID] [--reason TEXT]",
			help: "credit explicit points or what a spend earns (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to credit")
				fs.String("request-id", "", requestIDHelp)
				orderID := fs.String("order-id", "", "the order the points are for")
				reason := fs.String("reason", "", "why the points are credited")
				spend := fs.Int64("spend", 0, "amount spent, in minor units (cents); the program's rate gives the points")
				currency := fs.String("currency", "", "currency of the spend (ISO 4217)")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				req := &loyaltyv1.EarnRequest{MemberId: pos[0], RequestId: id, Points: *points, OrderId: *orderID, Reason: *reason}
				if *spend != 0 || *currency != "" {
					req.Spend = &loyaltyv1.Money{AmountMinor: *spend, Currency: *currency}
				}
				return c.points().Earn(ctx, req)
			}},
		"redeem": {args: "MEMBER_ID --points N [--request-id ID] [--order-id ID] [--memo TEXT]",
			help: "spend available points (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				points := fs.Int64("points", 0, "points to spend")
				fs.String("request-id", "", requestIDHelp)
				orderID := fs.String("order-id", "", "the order the points pay for")
				memo := fs.String("memo", "", "a note on the entry")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				return c.points().Redeem(ctx, &loyaltyv1.RedeemRequest{MemberId: pos[0], RequestId: id, Points: *points, OrderId: *orderID, Memo: *memo})
			}},
		"balance": {args: "MEMBER_ID", help: "show a member's available, pending and held points",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.points().GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: id})
			})},
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
		"verify": {args: "[--incremental]", help: "prove the books balance (auditor); --incremental reads only what came after the last checkpoint",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				incremental := fs.Bool("incremental", false, "read only the entries after the last checkpoint instead of the full audit")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.ledger().VerifyLedger(ctx, &loyaltyv1.VerifyLedgerRequest{Incremental: *incremental})
			}},
	}
	commands["orders"] = map[string]command{
		"refund": {args: "--member ID --order ID [--amount MINOR] [--request-id ID]",
			help: "refund an order in full or in part: takes back its points, gives back points redeemed on it",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				member := fs.String("member", "", "the member whose order it is")
				order := fs.String("order", "", "the shop's order id")
				amount := fs.Int64("amount", 0, "minor units refunded (cents); omitted: the rest of the order, in full")
				fs.String("request-id", "", requestIDHelp+"; a second partial refund of the same amount needs its own")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				req := &loyaltyv1.RefundOrderRequest{MemberId: *member, OrderId: *order, RequestId: c.requestID(fs, nil)}
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
		"set": {args: "[--file PROGRAM.json] [--currencies CNY,HKD]",
			help: "put new program settings in force (admin): the current ones, replaced by the file's, then by the flags",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				file := fs.String("file", "", "settings as `program get` prints them (version and updateTime are ignored)")
				currencies := fs.String("currencies", "", "the ISO 4217 codes spends may be in, comma-separated, e.g. CNY,HKD")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				if *file == "" && *currencies == "" {
					return nil, errUsage
				}
				current, err := c.program().GetProgram(ctx, &loyaltyv1.GetProgramRequest{})
				if err != nil {
					return nil, err
				}
				prog := current.GetProgram()
				if *file != "" {
					raw, err := os.ReadFile(*file)
					if err != nil {
						return nil, err
					}
					prog = &loyaltyv1.Program{}
					if err := protojson.Unmarshal(raw, prog); err != nil {
						return nil, fmt.Errorf("%s is not program settings: %w", *file, err)
					}
				}
				if *currencies != "" {
					prog.Currencies = strings.Split(*currencies, ",")
				}
				resp, err := c.program().UpdateProgram(ctx, &loyaltyv1.UpdateProgramRequest{Program: prog})
				return resp.GetProgram(), err
			}},
	}
	commands["tiers"] = map[string]command{
		"policy": {args: "", help: "print the tier policy in force (the JSON set-policy takes)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				resp, err := c.tiers().GetTierPolicy(ctx, &loyaltyv1.GetTierPolicyRequest{})
				return resp.GetPolicy(), err
			}},
		"set-policy": {args: "--file POLICY.json", help: "put a new tier policy in force (admin); the file is a policy as `tiers policy` prints it",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				file := fs.String("file", "", "the policy, as JSON (version and updateTime are ignored)")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				if *file == "" {
					return nil, errUsage
				}
				raw, err := os.ReadFile(*file)
				if err != nil {
					return nil, err
				}
				policy := &loyaltyv1.TierPolicy{}
				if err := protojson.Unmarshal(raw, policy); err != nil {
					return nil, fmt.Errorf("%s is not a tier policy: %w", *file, err)
				}
				resp, err := c.tiers().UpdateTierPolicy(ctx, &loyaltyv1.UpdateTierPolicyRequest{Policy: policy})
				return resp.GetPolicy(), err
			}},
	}
	commands["memberships"] = map[string]command{
		"buy": {args: "MEMBER_ID --tier TIER --end TIME [--start TIME] [--order ID] [--request-id ID]",
			help: "record a paid membership: the member has the tier until --end (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				tier := fs.String("tier", "", "the tier bought, e.g. platinum")
				end := timeFlag(fs, "end", "when the membership ends (RFC 3339, e.g. 2027-12-31T00:00:00Z)")
				start := timeFlag(fs, "start", "when it starts (RFC 3339; default: now)")
				order := fs.String("order", "", "the shop's order the membership was bought with")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				resp, err := c.tiers().CreateMembership(ctx, &loyaltyv1.CreateMembershipRequest{
					MemberId: pos[0], RequestId: id, TierId: *tier, StartTime: *start, EndTime: *end, OrderId: *order,
				})
				return resp.GetMembership(), err
			}},
		"list": {args: "MEMBER_ID", help: "a member's paid memberships, newest first",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.tiers().ListMemberships(ctx, &loyaltyv1.ListMembershipsRequest{MemberId: id})
			})},
		"cancel": {args: "MEMBER_ID MEMBERSHIP_ID", help: "end a paid membership now",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 2)
				if err != nil {
					return nil, err
				}
				resp, err := c.tiers().CancelMembership(ctx, &loyaltyv1.CancelMembershipRequest{MemberId: pos[0], MembershipId: pos[1]})
				return resp.GetMembership(), err
			}},
	}
	commands["entitlements"] = map[string]command{
		"check": {args: "MEMBER_ID PERK", help: "may the member use a quota perk (e.g. freeReturnPickups) now, and how much is left",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 2)
				if err != nil {
					return nil, err
				}
				resp, err := c.tiers().CheckEntitlement(ctx, &loyaltyv1.CheckEntitlementRequest{MemberId: pos[0], Perk: pos[1]})
				return resp.GetEntitlement(), err
			}},
		"consume": {args: "MEMBER_ID PERK [--order ID] [--request-id ID]",
			help: "use one of a quota perk, once per request id (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				order := fs.String("order", "", "the shop's order the use is for")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 2)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				return c.tiers().ConsumeEntitlement(ctx, &loyaltyv1.ConsumeEntitlementRequest{
					MemberId: pos[0], Perk: pos[1], RequestId: id, OrderId: *order,
				})
			}},
	}
}
