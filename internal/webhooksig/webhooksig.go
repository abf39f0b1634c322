// Package webhooksig signs webhook deliveries as the Standard Webhooks
// specification says, and keeps their secrets: a secret is shown once as
// "whsec_" + base64 of its bytes; the signature of a delivery is "v1," + base64 of
// HMAC-SHA256(secret, id + "." + timestamp + "." + body), one per valid secret,
// separated by spaces. Secrets are stored sealed (AES-256-GCM) with a key of the
// server (internal/serversecret), since every delivery needs them again.
package webhooksig

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Prefix starts every secret as the user sees it.
const Prefix = "whsec_"

// SecretBytes is the length of a new secret: 256 bits, as long as HMAC-SHA256's key.
const SecretBytes = 32

// NewSecret is a fresh random secret.
func NewSecret() []byte {
	b := make([]byte, SecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it aborts the program instead)
	return b
}

// Format is the secret as shown to the user: whsec_ and its base64.
func Format(secret []byte) string { return Prefix + base64.StdEncoding.EncodeToString(secret) }

// Parse reads a secret Format wrote.
func Parse(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, Prefix))
	if err != nil || !strings.HasPrefix(s, Prefix) || len(b) == 0 {
		return nil, errors.New("webhooksig: not a whsec_ secret")
	}
	return b, nil
}

// Sign is the v1 signature of a delivery with one secret, made by the Standard
// Webhooks reference library.
func Sign(secret []byte, id string, timestamp int64, body []byte) string {
	wh, _ := standardwebhooks.NewWebhookRaw(secret)      // never fails: it only keeps the key
	sig, _ := wh.Sign(id, time.Unix(timestamp, 0), body) // never fails either
	return sig
}

// Header is the webhook-signature header: a signature per secret, space-separated
// (during a rotation, the new secret's and the old one's).
func Header(secrets [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(s, id, timestamp, body)
	}
	return strings.Join(sigs, " ")
}

// Sealer seals secrets for storage and opens them again.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer is the sealer with a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("webhooksig: the sealing key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// additional binds a sealed secret to its use: it cannot be opened as anything else.
var additional = []byte("loyalty webhook secret v1")

// Seal is the nonce followed by the sealed secret.
func (s *Sealer) Seal(secret []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, secret, additional)
}

// Open is the secret Seal sealed; an altered or foreign box is an error.
func (s *Sealer) Open(box []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(box) < n {
		return nil, errors.New("webhooksig: sealed secret too short")
	}
	secret, err := s.aead.Open(nil, box[:n], box[n:], additional)
	if err != nil {
		return nil, errors.New("webhooksig: sealed secret does not open with this key")
	}
	return secret, nil
}
