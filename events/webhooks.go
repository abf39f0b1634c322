package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events/internal/eventsdb"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// Endpoint statuses.
const (
	EndpointActive   = "ACTIVE"
	EndpointDisabled = "DISABLED"
)

// Delivery statuses.
const (
	DeliveryPending   = "PENDING"
	DeliverySucceeded = "SUCCEEDED"
	DeliveryFailed    = "FAILED"
)

// PreviousSecretValidity is how long a rotated-out secret keeps signing.
const PreviousSecretValidity = 24 * time.Hour

// Endpoint is a registered webhook endpoint (without its secret).
type Endpoint struct {
	ID             string
	URL            string
	EventTypes     []Type // none: every type
	Description    string
	Status         string
	DisabledReason string
	// Position is how far the dispatcher has read the feed for the endpoint.
	Position Position
	// PreviousSecretExpireTime is set while a rotated-out secret still signs.
	PreviousSecretExpireTime *time.Time
	CreateTime               time.Time
}

// Delivery is an event's delivery to an endpoint, with its last attempt.
type Delivery struct {
	ID              int64
	EndpointID      string
	EventID         string
	EventType       Type
	MemberID        string
	MemberSeq       int64
	Status          string
	Attempts        int
	LastStatusCode  int
	LastLatency     time.Duration
	LastError       string
	NextAttemptTime time.Time
	CreateTime      time.Time
	DeliverTime     *time.Time
}

var (
	// ErrEndpointNotFound: no endpoint has the id.
	ErrEndpointNotFound = problem.New(problem.NotFound, "WEBHOOK_ENDPOINT_NOT_FOUND", "no webhook endpoint has this id")
	// ErrDeliveryNotFound: the endpoint has no delivery with the id.
	ErrDeliveryNotFound = problem.New(problem.NotFound, "WEBHOOK_DELIVERY_NOT_FOUND", "this webhook endpoint has no delivery with this id")
)

// Webhooks keeps the webhook endpoints and their deliveries.
type Webhooks struct {
	pool       *pgxpool.Pool
	q          *eventsdb.Queries
	sealer     *webhooksig.Sealer
	pageTokens *pagetoken.Codec
	policy     RetryPolicy
}

// NewWebhooks is the store on pool; sealingKey (32 bytes, the same on every
// replica) seals the signing secrets; policy's zero fields take the defaults.
func NewWebhooks(pool *pgxpool.Pool, sealingKey []byte, pageTokens *pagetoken.Codec, policy RetryPolicy) (*Webhooks, error) {
	sealer, err := webhooksig.NewSealer(sealingKey)
	if err != nil {
		return nil, err
	}
	return &Webhooks{pool: pool, q: eventsdb.New(), sealer: sealer, pageTokens: pageTokens, policy: policy.withDefaults()}, nil
}

// Policy is the retry policy in force.
func (w *Webhooks) Policy() RetryPolicy { return w.policy }

// CreateEndpoint is a new endpoint. The URL is checked by the caller (the
// transport's SSRF guard), which knows the network.
type CreateEndpoint struct {
	URL         string
	EventTypes  []Type
	Description string
}

// Create registers an endpoint and returns it with its secret (whsec_...), which
// is not kept in the clear and cannot be read again.
func (w *Webhooks) Create(ctx context.Context, c CreateEndpoint, now time.Time) (Endpoint, string, error) {
	if err := CheckTypes("eventTypes", c.EventTypes); err != nil {
		return Endpoint{}, "", err
	}
	if utf8.RuneCountInString(c.Description) > 500 {
		return Endpoint{}, "", invalid("INVALID_DESCRIPTION", "description", "must be at most 500 characters")
	}
	secret := webhooksig.NewSecret()
	r, err := w.q.CreateEndpoint(ctx, w.pool, eventsdb.CreateEndpointParams{
		EndpointID: newEndpointID(), Url: c.URL, EventTypes: typeStrings(c.EventTypes), Description: c.Description,
		SealedSecret: w.sealer.Seal(secret), CreateTime: now,
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("create webhook endpoint: %w", err)
	}
	return endpointOf(eventsdb.EndpointRow(r)), webhooksig.Format(secret), nil
}

// List is every endpoint, oldest first.
func (w *Webhooks) List(ctx context.Context) ([]Endpoint, error) {
	rows, err := w.q.Endpoints(ctx, w.pool)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := make([]Endpoint, len(rows))
	for i, r := range rows {
		out[i] = endpointOf(eventsdb.EndpointRow(r))
	}
	return out, nil
}

// Get is one endpoint.
func (w *Webhooks) Get(ctx context.Context, id string) (Endpoint, error) {
	r, err := w.q.Endpoint(ctx, w.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Endpoint{}, ErrEndpointNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("read webhook endpoint: %w", err)
	}
	return endpointOf(r), nil
}

// Delete forgets an endpoint and its deliveries.
func (w *Webhooks) Delete(ctx context.Context, id string) error {
	n, err := w.q.DeleteEndpoint(ctx, w.pool, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	if n == 0 {
		return ErrEndpointNotFound
	}
	return nil
}

// Rotate gives the endpoint a new secret; the old one signs along for
// PreviousSecretValidity.
func (w *Webhooks) Rotate(ctx context.Context, id string, now time.Time) (Endpoint, string, error) {
	secret := webhooksig.NewSecret()
	r, err := w.q.RotateSecret(ctx, w.pool, eventsdb.RotateSecretParams{
		EndpointID: id, SealedSecret: w.sealer.Seal(secret), ExpireTime: now.Add(PreviousSecretValidity),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Endpoint{}, "", ErrEndpointNotFound
	}
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	return endpointOf(eventsdb.EndpointRow(r)), webhooksig.Format(secret), nil
}

// Replay moves the endpoint back to after (or, when after is the start and since
// is set, to where since begins in the feed) and enables it: every event after
// that is delivered again (with its own event id, so receivers can tell).
func (w *Webhooks) Replay(ctx context.Context, id string, after Position, since time.Time) (Endpoint, error) {
	if after.IsStart() && !since.IsZero() {
		var err error
		if after, err = positionAt(ctx, w.pool, since); err != nil {
			return Endpoint{}, err
		}
	}
	r, err := w.q.ReplayEndpoint(ctx, w.pool, eventsdb.ReplayEndpointParams{
		EndpointID: id, FeedXid: strconv.FormatUint(after.Xid, 10), FeedID: after.ID,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Endpoint{}, ErrEndpointNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("replay webhook endpoint: %w", err)
	}
	return endpointOf(eventsdb.EndpointRow(r)), nil
}

// Page sizes of the deliveries list.
const (
	defaultDeliveriesPage = 50
	maxDeliveriesPage     = 200
)

// Deliveries is a page of the endpoint's deliveries, newest first, and the token of
// the next page ("" at the end).
func (w *Webhooks) Deliveries(ctx context.Context, endpointID string, pageSize int32, pageToken string) ([]Delivery, string, error) {
	if _, err := w.Get(ctx, endpointID); err != nil {
		return nil, "", err
	}
	q := pagetoken.For("webhookDeliveries", endpointID)
	var before int64
	if pageToken != "" {
		var err error
		if before, err = w.pageTokens.DecodeID(q, pageToken); err != nil {
			return nil, "", err
		}
	}
	if pageSize < 0 || pageSize > maxDeliveriesPage {
		return nil, "", invalid("INVALID_PAGE_SIZE", "pageSize", fmt.Sprintf("must be 1-%d (0: %d)", maxDeliveriesPage, defaultDeliveriesPage))
	}
	if pageSize == 0 {
		pageSize = defaultDeliveriesPage
	}
	rows, err := w.q.Deliveries(ctx, w.pool, eventsdb.DeliveriesParams{EndpointID: endpointID, BeforeID: before, PageSize: pageSize + 1})
	if err != nil {
		return nil, "", fmt.Errorf("list webhook deliveries: %w", err)
	}
	next := ""
	if len(rows) > int(pageSize) {
		rows = rows[:pageSize]
		next = w.pageTokens.EncodeID(q, rows[len(rows)-1].DeliveryID)
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = Delivery{
			ID: r.DeliveryID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: Type(r.EventType), MemberID: r.MemberID,
			MemberSeq: r.MemberSeq, Status: r.Status, Attempts: int(r.Attempts), LastStatusCode: int(r.LastStatusCode),
			LastLatency: time.Duration(r.LastLatencyMs) * time.Millisecond, LastError: r.LastError, NextAttemptTime: r.NextAttemptTime,
			CreateTime: r.CreateTime, DeliverTime: r.DeliverTime,
		}
	}
	return out, next, nil
}

// Retry attempts a delivery again at once, with a fresh retry window, and enables
// its endpoint.
func (w *Webhooks) Retry(ctx context.Context, endpointID string, deliveryID int64, now time.Time) (Delivery, error) {
	if _, err := w.Get(ctx, endpointID); err != nil {
		return Delivery{}, err
	}
	_, err := w.q.RetryDelivery(ctx, w.pool, eventsdb.RetryDeliveryParams{EndpointID: endpointID, DeliveryID: deliveryID, Now: now})
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, ErrDeliveryNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("retry webhook delivery: %w", err)
	}
	page, _, err := w.Deliveries(ctx, endpointID, 1, w.pageTokens.EncodeID(pagetoken.For("webhookDeliveries", endpointID), deliveryID+1))
	if err != nil {
		return Delivery{}, err
	}
	if len(page) == 0 || page[0].ID != deliveryID {
		return Delivery{}, ErrDeliveryNotFound
	}
	return page[0], nil
}

func newEndpointID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it aborts the program instead)
	return "whe_" + hex.EncodeToString(b)
}

func typeStrings(types []Type) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out
}

func endpointOf(r eventsdb.EndpointRow) Endpoint {
	xid, _ := strconv.ParseUint(r.FeedXid, 10, 64) // feed_xid::text of an xid8: digits
	e := Endpoint{
		ID: r.EndpointID, URL: r.Url, Description: r.Description, Status: r.Status, DisabledReason: r.DisabledReason,
		Position: Position{Xid: xid, ID: r.FeedID}, PreviousSecretExpireTime: r.PreviousSecretExpireTime, CreateTime: r.CreateTime,
	}
	for _, t := range r.EventTypes {
		e.EventTypes = append(e.EventTypes, Type(t))
	}
	return e
}
