package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// The rate-limit commands of the keys group (listed in commands.go).
var (
	rateLimitCommand = command{args: "KEY_ID", help: "show the rate limit a key gets: its own or its role's default (admin)",
		run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
			return c.keys().GetApiKeyRateLimit(ctx, &loyaltyv1.GetApiKeyRateLimitRequest{KeyId: id})
		})}
	setRateLimitCommand = command{args: "KEY_ID --rps N [--burst N]", help: "set a key's rate limit; --rps 0 returns it to its role's default (admin)",
		run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
			rps := fs.Int("rps", -1, "requests per second the key's bucket refills (1-1000000; 0: the role's default)")
			burst := fs.Int("burst", 0, "requests the key may send at once (default: as many as --rps)")
			pos, err := parse(fs, args, 1)
			if err != nil {
				return nil, err
			}
			if !flagSet(fs, "rps") {
				return nil, errUsage
			}
			r, err := int32Flag(*rps)
			if err != nil {
				return nil, err
			}
			b, err := int32Flag(*burst)
			if err != nil {
				return nil, err
			}
			return c.keys().SetApiKeyRateLimit(ctx, &loyaltyv1.SetApiKeyRateLimitRequest{KeyId: pos[0], RequestsPerSecond: r, Burst: b})
		}}
)

// transportCredentials is plain text unless TLS is asked for: with a CA file,
// only servers with a certificate from it are trusted; without, the system's
// roots.
func transportCredentials(useTLS bool, caFile string) (credentials.TransportCredentials, error) {
	if !useTLS && caFile == "" {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("TLS CA: " + caFile + " holds no PEM certificate")
		}
	}
	return credentials.NewTLS(cfg), nil
}
