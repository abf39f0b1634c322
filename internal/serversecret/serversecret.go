// Package serversecret keeps the secrets the server uses for itself (the key of
// page tokens) in the database, so that every replica uses the same secret and a
// restart keeps it. A secret is 32 random bytes, made once by whichever replica
// asks first; it never changes.
package serversecret

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/loyalty-engine/loyalty/internal/serversecret/internal/secretdb"
)

// Names of the secrets.
const (
	PageTokens = "page_tokens"
	// WebhookSecrets seals the webhook endpoints' signing secrets (AES-256-GCM).
	WebhookSecrets = "webhook_secrets"
)

// Bytes is the length of a secret: 256 bits, as long as an HMAC-SHA256 key needs.
const Bytes = 32

// Get returns the secret called name, creating it first if no replica has yet.
func Get(ctx context.Context, db secretdb.DBTX, name string) ([]byte, error) {
	q := secretdb.New()
	fresh := make([]byte, Bytes)
	_, _ = rand.Read(fresh) // crypto/rand.Read never fails (it aborts the program instead)
	// Two statements, not one: if another replica's insert wins the race, this
	// insert waits for it and does nothing, and only a new statement sees its row.
	if err := q.CreateSecret(ctx, db, secretdb.CreateSecretParams{Name: name, Secret: fresh}); err != nil {
		return nil, fmt.Errorf("create server secret %s: %w", name, err)
	}
	secret, err := q.Secret(ctx, db, name)
	if err != nil {
		return nil, fmt.Errorf("read server secret %s: %w", name, err)
	}
	return secret, nil
}
