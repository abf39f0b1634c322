package main

import (
	"context"
	"flag"

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
	}
}
