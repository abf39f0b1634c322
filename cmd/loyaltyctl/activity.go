package main

import (
	"context"
	"flag"

	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

func init() {
	commands["activity"] = map[string]command{
		"report": {args: "MEMBER_ID TYPE [--key KEY] [--request-id ID]",
			help: "report a member's activity (a review, a share, a check-in): the ACTIVITY_REWARD campaigns' points for it (once per request id, and per type and key)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				key := fs.String("key", "", "what the activity is about (the reviewed order line): the same type and key earn once")
				fs.String("request-id", "", requestIDHelp)
				pos, err := parse(fs, args, 2)
				if err != nil {
					return nil, err
				}
				id := c.requestID(fs, pos)
				return c.activities().RecordActivity(ctx, &loyaltyv1.RecordActivityRequest{MemberId: pos[0], RequestId: id, Type: pos[1], ActivityKey: *key})
			}},
		"types": {args: "", help: "the activity types members can report (built in and added by an admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.activities().ListActivityTypes(ctx, &loyaltyv1.ListActivityTypesRequest{})
			}},
	}
}
