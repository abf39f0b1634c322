package webhooksig

import (
	"net/http"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Verify checks a delivery the way a receiver should, with the Standard Webhooks
// reference library (not this package's signing code, so a receiver built on it
// checks the sender): one of the webhook-signature header's signatures is the v1
// signature of webhook-id.webhook-timestamp.body with secret, and the timestamp is
// within 5 minutes of now. The error says which part failed.
func Verify(secret []byte, header http.Header, body []byte) error {
	wh, _ := standardwebhooks.NewWebhookRaw(secret) // never fails: it only keeps the key
	return wh.Verify(body, header)
}
