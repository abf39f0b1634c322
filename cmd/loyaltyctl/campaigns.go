package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// campaignCall runs a call on one campaign, named by the only argument.
func campaignCall(help string, call func(ctx context.Context, c *client, id string) (proto.Message, error)) command {
	return command{args: "CAMPAIGN_ID", help: help,
		run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
			return call(ctx, c, id)
		})}
}

func init() {
	commands["campaigns"] = map[string]command{
		"create": {args: "--file CAMPAIGN.json [--request-id ID]",
			help: "save a campaign in DRAFT (marketer); the file is the REST body of POST /v1/campaigns",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				file := fs.String("file", "", "the campaign, as JSON: displayName, type, schedule, eligibility, multiplierPercent, ...")
				reqID := fs.String("request-id", "", "idempotency key; overrides a requestId in the file (default: the file's, "+
					"or one derived from the file's contents, so creating from the same file again does nothing)")
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
				req := &loyaltyv1.CreateCampaignRequest{}
				if err := protojson.Unmarshal(raw, req); err != nil {
					return nil, fmt.Errorf("%s is not a campaign: %w", *file, err)
				}
				if *reqID != "" || req.RequestId == "" {
					req.RequestId = c.requestID(fs, nil, string(raw))
				}
				resp, err := c.campaigns().CreateCampaign(ctx, req)
				return resp.GetCampaign(), err
			}},
		"get": campaignCall("show a campaign with its status now", func(ctx context.Context, c *client, id string) (proto.Message, error) {
			resp, err := c.campaigns().GetCampaign(ctx, &loyaltyv1.GetCampaignRequest{CampaignId: id})
			return resp.GetCampaign(), err
		}),
		"activate": campaignCall("start a DRAFT or PAUSED campaign: it applies from its start (at once without one)",
			func(ctx context.Context, c *client, id string) (proto.Message, error) {
				resp, err := c.campaigns().ActivateCampaign(ctx, &loyaltyv1.ActivateCampaignRequest{CampaignId: id})
				return resp.GetCampaign(), err
			}),
		"pause": campaignCall("stop a campaign from applying until it is activated again",
			func(ctx context.Context, c *client, id string) (proto.Message, error) {
				resp, err := c.campaigns().PauseCampaign(ctx, &loyaltyv1.PauseCampaignRequest{CampaignId: id})
				return resp.GetCampaign(), err
			}),
		"end": campaignCall("end a campaign for good", func(ctx context.Context, c *client, id string) (proto.Message, error) {
			resp, err := c.campaigns().EndCampaign(ctx, &loyaltyv1.EndCampaignRequest{CampaignId: id})
			return resp.GetCampaign(), err
		}),
		"list": {args: "[--status S] [--page-size N] [--page-token T]", help: "list campaigns, newest first",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				status := fs.String("status", "", "only DRAFT, SCHEDULED, ACTIVE, PAUSED or ENDED campaigns (as they are now)")
				size := fs.Int("page-size", 0, "campaigns per page, 1-500 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				n, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return c.campaigns().ListCampaigns(ctx, &loyaltyv1.ListCampaignsRequest{Status: *status, PageSize: n, PageToken: *token})
			}},
		"simulate": {args: "CAMPAIGN_ID --member ID [--spend MINOR [--currency C]] [--order ID] [--event-type T [--delay-hours H]]",
			help: "dry run: what the campaign would grant the member for an order or an after-sales event (changes nothing)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				member := fs.String("member", "", "the member")
				spend := fs.Int64("spend", 0, "the order's spend, in minor units (cents)")
				currency := fs.String("currency", "", "currency of the spend (ISO 4217)")
				order := fs.String("order", "", "the shop's order id")
				eventType := fs.String("event-type", "", "an after-sales event type, e.g. LATE_DELIVERY (compensation campaigns)")
				delay := fs.Int("delay-hours", 0, "the event's delay in hours")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				hours, err := int32Flag(*delay)
				if err != nil {
					return nil, err
				}
				req := &loyaltyv1.SimulateCampaignRequest{CampaignId: pos[0], MemberId: *member, OrderId: *order, EventType: *eventType, DelayHours: hours}
				if *spend != 0 || *currency != "" {
					req.Spend = &loyaltyv1.Money{AmountMinor: *spend, Currency: *currency}
				}
				return c.campaigns().SimulateCampaign(ctx, req)
			}},
	}
	commands["coupons"] = map[string]command{
		"issue": {args: "MEMBER_ID --campaign ID [--request-id ID]",
			help: "issue a coupon of a coupon drop to a member, within its budget (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				campaign := fs.String("campaign", "", "the COUPON_DROP campaign")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				resp, err := c.coupons().IssueCoupon(ctx, &loyaltyv1.IssueCouponRequest{MemberId: pos[0], RequestId: id, CampaignId: *campaign})
				return resp.GetCoupon(), err
			}},
		"list": {args: "MEMBER_ID [--page-size N] [--page-token T]", help: "a member's coupons, newest first, with their status now",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				size := fs.Int("page-size", 0, "coupons per page, 1-500 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				n, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return c.coupons().ListCoupons(ctx, &loyaltyv1.ListCouponsRequest{MemberId: pos[0], PageSize: n, PageToken: *token})
			}},
		"get": {args: "CODE", help: "show a coupon and its status now (validate before checkout)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				resp, err := c.coupons().GetCoupon(ctx, &loyaltyv1.GetCouponRequest{Code: pos[0]})
				return resp.GetCoupon(), err
			}},
		"redeem": {args: "CODE --member ID --order ID [--spend MINOR] [--request-id ID]",
			help: "redeem a member's coupon on an order, exactly once (once: running it again does nothing, see --request-id)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				member := fs.String("member", "", "the member redeeming it (must be the coupon's)")
				order := fs.String("order", "", "the shop's order id")
				spend := fs.Int64("spend", 0, "the order's spend in minor units, checked against the coupon's minimum")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				resp, err := c.coupons().RedeemCoupon(ctx, &loyaltyv1.RedeemCouponRequest{
					Code: pos[0], RequestId: id, MemberId: *member, OrderId: *order, SpendMinor: *spend,
				})
				return resp.GetCoupon(), err
			}},
		"allowance": {args: "", help: "which campaign's coupon the tiers' monthly coupon allowance issues (empty: none)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				resp, err := c.coupons().GetCouponAllowance(ctx, &loyaltyv1.GetCouponAllowanceRequest{})
				return resp.GetAllowance(), err
			}},
		"set-allowance": {args: "(--campaign ID | --off)",
			help: "set the active campaign whose coupon the monthly coupon allowance issues each member cycle, or turn the allowance off",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				campaign := fs.String("campaign", "", "an ACTIVE campaign with a coupon (a COUPON_DROP)")
				off := fs.Bool("off", false, "issue no allowance coupons")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				// Exactly one of the two: a forgotten --campaign must not turn it off.
				if (*campaign == "") != *off {
					return nil, errUsage
				}
				resp, err := c.coupons().UpdateCouponAllowance(ctx, &loyaltyv1.UpdateCouponAllowanceRequest{CampaignId: *campaign})
				return resp.GetAllowance(), err
			}},
		"revoke": {args: "CODE", help: "withdraw an unredeemed coupon",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				resp, err := c.coupons().RevokeCoupon(ctx, &loyaltyv1.RevokeCouponRequest{Code: pos[0]})
				return resp.GetCoupon(), err
			}},
	}
	commands["after-sales"] = map[string]command{
		"report": {args: "--member ID --order ID --type TYPE [--delay-hours H] [--note TEXT] [--request-id ID]",
			help: "report an after-sales event; answers the compensation granted (once per order and type)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				member := fs.String("member", "", "the member")
				order := fs.String("order", "", "the shop's order id")
				typ := fs.String("type", "", "LATE_DELIVERY, DAMAGED_ITEM, WRONG_ITEM, MISSING_ITEM, REFUND_DELAY, SERVICE_COMPLAINT or OTHER")
				delay := fs.Int("delay-hours", 0, "how late, in hours")
				note := fs.String("note", "", "what happened")
				fs.String("request-id", "", requestIDHelp)
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				hours, err := int32Flag(*delay)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, nil)
				return c.afterSales().ReportAfterSalesEvent(ctx, &loyaltyv1.ReportAfterSalesEventRequest{
					RequestId: id, MemberId: *member, OrderId: *order, Type: *typ, DelayHours: hours, Note: *note,
				})
			}},
	}
}
