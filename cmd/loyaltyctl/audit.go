package main

import (
	"context"
	"flag"
	"strings"

	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

func init() {
	commands["audit"] = map[string]command{
		"": {args: "[--key KEY_ID] [--member ID] [--method M] [--since T] [--until T] [--page-size N] [--page-token T]",
			help: "the audit trail: who called which write, on what, and how it ended, newest first (admin, auditor)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				key := fs.String("key", "", "only calls by this key id (key_...)")
				member := fs.String("member", "", "only calls about this member")
				method := fs.String("method", "", "only calls of this method: /loyalty.v1.PointsService/Earn, or PointsService/Earn")
				since := timeFlag(fs, "since", "only calls at or after this RFC 3339 time (business time)")
				until := timeFlag(fs, "until", "only calls before this RFC 3339 time (business time)")
				size := fs.Int("page-size", 0, "records per page, 1-200 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				pageSize, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return loyaltyv1.NewAuditServiceClient(c.conn).ListAuditLog(ctx, &loyaltyv1.ListAuditLogRequest{
					KeyId: *key, MemberId: *member, Method: fullMethod(*method), StartTime: *since, EndTime: *until,
					PageSize: pageSize, PageToken: *token})
			}},
	}
}

// fullMethod completes a method named within the API (PointsService/Earn) to its
// gRPC full name; anything else goes to the server as given.
func fullMethod(m string) string {
	if m == "" || strings.HasPrefix(m, "/") || !strings.Contains(m, "/") {
		return m
	}
	return "/loyalty.v1." + m
}
