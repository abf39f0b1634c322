package main

import (
	"context"
	"flag"

	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

func (c *client) webhooks() loyaltyv1.WebhookServiceClient {
	return loyaltyv1.NewWebhookServiceClient(c.conn)
}

func init() {
	commands["webhooks"] = map[string]command{
		"listen": listenCommand(),
		"create": {args: "--url URL [--types T,...] [--description D]",
			help: "register a webhook endpoint (admin); prints its whsec_ secret once",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				url := fs.String("url", "", "where deliveries are POSTed (http:// or https://)")
				types := fs.String("types", "", "event types delivered, comma-separated (default: all)")
				description := fs.String("description", "", "what the endpoint is for")
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.webhooks().CreateWebhookEndpoint(ctx, &loyaltyv1.CreateWebhookEndpointRequest{
					Url: *url, EventTypes: splitList(*types), Description: *description})
			}},
		"list": {help: "the webhook endpoints, without their secrets (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.webhooks().ListWebhookEndpoints(ctx, &loyaltyv1.ListWebhookEndpointsRequest{})
			}},
		"get": {args: "ENDPOINT_ID", help: "one webhook endpoint (admin)",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.webhooks().GetWebhookEndpoint(ctx, &loyaltyv1.GetWebhookEndpointRequest{EndpointId: id})
			})},
		"delete": {args: "ENDPOINT_ID", help: "stop delivering to an endpoint and forget it (admin)",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.webhooks().DeleteWebhookEndpoint(ctx, &loyaltyv1.DeleteWebhookEndpointRequest{EndpointId: id})
			})},
		"rotate": {args: "ENDPOINT_ID", help: "a new secret, printed once; the old one signs along for 24 h (admin)",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.webhooks().RotateWebhookSecret(ctx, &loyaltyv1.RotateWebhookSecretRequest{EndpointId: id})
			})},
		"deliveries": {args: "ENDPOINT_ID [--page-size N] [--page-token T]",
			help: "an endpoint's deliveries, newest first: status, attempts, last HTTP status and latency (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				size := fs.Int("page-size", 0, "deliveries per page, 1-200 (default 50)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				pageSize, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return c.webhooks().ListWebhookDeliveries(ctx, &loyaltyv1.ListWebhookDeliveriesRequest{
					EndpointId: pos[0], PageSize: pageSize, PageToken: *token})
			}},
		"retry": {args: "ENDPOINT_ID DELIVERY_ID", help: "attempt a delivery again now (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				pos, err := parse(fs, args, 2)
				if err != nil {
					return nil, err
				}
				return c.webhooks().RetryWebhookDelivery(ctx, &loyaltyv1.RetryWebhookDeliveryRequest{EndpointId: pos[0], DeliveryId: pos[1]})
			}},
		"replay": {args: "ENDPOINT_ID [--after POS | --since T]",
			help: "deliver again every event after a position, or from a time (default: all), and enable the endpoint (admin)",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				after := fs.String("after", "", "replay the events after this position")
				since := timeFlag(fs, "since", "replay the events from this RFC 3339 time")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				return c.webhooks().ReplayWebhookEndpoint(ctx, &loyaltyv1.ReplayWebhookEndpointRequest{
					EndpointId: pos[0], AfterPosition: *after, StartTime: *since})
			}},
	}
}
