package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

func init() {
	commands["events"] = map[string]command{
		"list": {args: "[--after POS] [--types T,...] [--member ID] [--page-size N]",
			help: "a page of the event feed, oldest first; nextPosition resumes it (admin, auditor)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				after := fs.String("after", "", "start after this position (a position or nextPosition printed before)")
				types := fs.String("types", "", "only these event types, comma-separated (points.earned,coupon.issued)")
				member := fs.String("member", "", "only this member's events")
				size := fs.Int("page-size", 0, "events per page, 1-1000 (default 100)")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				pageSize, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return loyaltyv1.NewEventServiceClient(c.conn).ListEvents(ctx, &loyaltyv1.ListEventsRequest{
					AfterPosition: *after, Types: splitList(*types), MemberId: *member, PageSize: pageSize})
			}},
		"tail": {args: "[--after POS] [--types T,...] [--count N]", follows: true,
			help: "follow the event feed live, one JSON event a line, until interrupted (admin, auditor); " +
				"without --after it starts at the first event",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				after := fs.String("after", "", "start after this position (the position of the last event seen)")
				types := fs.String("types", "", "only these event types, comma-separated")
				count := fs.Int("count", 0, "stop after this many events (0: follow until interrupted)")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return nil, tail(ctx, c, *after, splitList(*types), *count)
			}},
	}
}

func tail(ctx context.Context, c *client, after string, types []string, count int) error {
	stream, err := loyaltyv1.NewEventServiceClient(c.conn).WatchEvents(ctx, &loyaltyv1.WatchEventsRequest{AfterPosition: after, Types: types})
	if err != nil {
		return err
	}
	for n := 0; count == 0 || n < count; n++ {
		msg, err := stream.Recv()
		if status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled) {
			return nil // interrupted: the normal end of a tail
		}
		if err != nil {
			return err
		}
		line, err := protojson.Marshal(msg.GetEvent())
		if err != nil {
			return err
		}
		// protojson varies its spacing on purpose; one compact line per event.
		var out bytes.Buffer
		if err := json.Compact(&out, line); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, out.String())
	}
	return nil
}

// splitList reads a comma-separated flag; "" is no values.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
