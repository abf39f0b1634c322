package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events/internal/eventsdb"
)

// fanOutPage is the most events one fan-out reads per endpoint.
const fanOutPage = 1000

// FanOut makes a delivery of every new event for every active endpoint no other
// dispatcher is serving, and moves the endpoints' positions past them, in one
// short transaction: a delivery is made once per event and endpoint (a replay
// aside), and none is lost if the dispatcher dies. It returns how many it made.
func (w *Webhooks) FanOut(ctx context.Context, now time.Time) (int, error) {
	made := 0
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		made = 0
		endpoints, err := w.q.LockActiveEndpoints(ctx, tx)
		if err != nil {
			return err
		}
		for _, e := range endpoints {
			xid, _ := strconv.ParseUint(e.FeedXid, 10, 64)
			// Every type is read and the endpoint's types picked here, so that the
			// position moves past the events it does not take too: an endpoint of a
			// rare type does not read the same stretch of the feed again and again.
			evs, err := list(ctx, tx, Filter{After: Position{Xid: xid, ID: e.FeedID}, Limit: fanOutPage})
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				continue
			}
			arg := eventsdb.InsertDeliveriesParams{EndpointID: e.EndpointID, Now: now}
			for _, ev := range evs {
				if len(e.EventTypes) > 0 && !slices.Contains(e.EventTypes, string(ev.Type)) {
					continue
				}
				arg.EventXids = append(arg.EventXids, strconv.FormatUint(ev.Position.Xid, 10))
				arg.EventNums = append(arg.EventNums, ev.Position.ID)
				arg.MemberIds = append(arg.MemberIds, ev.MemberID)
			}
			if len(arg.EventNums) > 0 {
				if err := w.q.InsertDeliveries(ctx, tx, arg); err != nil {
					return err
				}
			}
			last := evs[len(evs)-1].Position
			if err := w.q.MoveEndpoint(ctx, tx, eventsdb.MoveEndpointParams{
				EndpointID: e.EndpointID, FeedXid: strconv.FormatUint(last.Xid, 10), FeedID: last.ID,
			}); err != nil {
				return err
			}
			made += len(arg.EventNums)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("fan out webhook deliveries: %w", err)
	}
	return made, nil
}

// Claim is a delivery a dispatcher owns for one attempt.
type Claim struct {
	DeliveryID   int64
	EndpointID   string
	URL          string
	EventID      string
	Attempts     int // this attempt included
	FirstAttempt time.Time
	// Secrets sign the attempt: the current one, and the previous one while it is
	// still valid.
	Secrets [][]byte
	// Body is the JSON body: {type, timestamp, data}.
	Body []byte
}

// body is what a delivery sends (the Standard Webhooks payload shape).
type body struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// ClaimDue claims up to max deliveries due at now, each first in line for its
// member and endpoint, for lease: no other dispatcher attempts them meanwhile.
func (w *Webhooks) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Claim, error) {
	rows, err := w.q.ClaimDeliveries(ctx, w.pool, eventsdb.ClaimDeliveriesParams{Now: now, LeaseUntil: now.Add(lease), MaxClaims: int32(max)})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	out := make([]Claim, 0, len(rows))
	for _, r := range rows {
		c := Claim{DeliveryID: r.DeliveryID, EndpointID: r.EndpointID, URL: r.Url, EventID: r.EventID, Attempts: int(r.Attempts), FirstAttempt: now}
		if r.FirstAttemptTime != nil {
			c.FirstAttempt = *r.FirstAttemptTime
		}
		secret, err := w.sealer.Open(r.SealedSecret)
		if err != nil {
			return nil, fmt.Errorf("webhook endpoint %s: %w", r.EndpointID, err)
		}
		c.Secrets = [][]byte{secret}
		if r.SealedPreviousSecret != nil && r.PreviousSecretExpireTime != nil && now.Before(*r.PreviousSecretExpireTime) {
			previous, err := w.sealer.Open(r.SealedPreviousSecret)
			if err != nil {
				return nil, fmt.Errorf("webhook endpoint %s: previous secret: %w", r.EndpointID, err)
			}
			c.Secrets = append(c.Secrets, previous)
		}
		if c.Body, err = json.Marshal(body{Type: r.EventType, Timestamp: r.OccurTime.UTC(), Data: r.Data}); err != nil {
			return nil, fmt.Errorf("webhook body of event %s: %w", r.EventID, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Attempt is how a claimed delivery's attempt went.
type Attempt struct {
	OK         bool
	StatusCode int
	Latency    time.Duration
	Error      string
}

// Record writes an attempt's result: a success ends the delivery (and lets the
// member's next one go); a failure schedules the next attempt by the retry policy,
// or, once the delivery has failed for GiveUpAfter, gives it up and disables the
// endpoint, with a webhook_endpoint.disabled event.
func (w *Webhooks) Record(ctx context.Context, c Claim, a Attempt, now time.Time) error {
	latency := a.Latency.Milliseconds()
	if a.OK {
		err := w.q.RecordSuccess(ctx, w.pool, eventsdb.RecordSuccessParams{
			DeliveryID: c.DeliveryID, Now: now, StatusCode: int32(a.StatusCode), LatencyMs: latency,
		})
		if err != nil {
			return fmt.Errorf("record webhook delivery %d: %w", c.DeliveryID, err)
		}
		return nil
	}
	if !GivesUp(w.policy, c.FirstAttempt, now) {
		next := now.Add(RetryDelay(w.policy, c.Attempts, rand.Float64()))
		err := w.q.RecordFailure(ctx, w.pool, eventsdb.RecordFailureParams{
			DeliveryID: c.DeliveryID, NextAttemptTime: next, StatusCode: int32(a.StatusCode), LatencyMs: latency, LastError: a.Error,
		})
		if err != nil {
			return fmt.Errorf("record webhook delivery %d: %w", c.DeliveryID, err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if err := w.q.GiveUpDelivery(ctx, tx, eventsdb.GiveUpDeliveryParams{
			DeliveryID: c.DeliveryID, StatusCode: int32(a.StatusCode), LatencyMs: latency, LastError: a.Error,
		}); err != nil {
			return err
		}
		reason := fmt.Sprintf("delivery %d failed for %s (last: %s)", c.DeliveryID, now.Sub(c.FirstAttempt).Round(time.Second), a.Error)
		url, err := w.q.DisableEndpoint(ctx, tx, eventsdb.DisableEndpointParams{EndpointID: c.EndpointID, Reason: reason})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // already disabled, or deleted
		}
		if err != nil {
			return err
		}
		return AppendTx(ctx, tx, Event{Type: WebhookDisabled, OccurTime: now, Data: WebhookDisabledData{
			EndpointID: c.EndpointID, URL: url, Reason: reason, FailingSince: c.FirstAttempt,
		}})
	})
	if err != nil {
		return fmt.Errorf("give up webhook delivery %d: %w", c.DeliveryID, err)
	}
	return nil
}

// Result is an attempt of a claimed delivery and how it went.
type Result struct {
	Claim   Claim
	Attempt Attempt
}

// RecordAll records the results of a round of attempts: the successes in one
// statement (a round of 64 attempts commits once, not 64 times), each failure as
// Record does. It returns the first error, having tried every result.
func (w *Webhooks) RecordAll(ctx context.Context, results []Result, now time.Time) error {
	var ok eventsdb.RecordSuccessesParams
	var first error
	for _, r := range results {
		if r.Attempt.OK {
			ok.DeliveryIds = append(ok.DeliveryIds, r.Claim.DeliveryID)
			ok.StatusCodes = append(ok.StatusCodes, int32(r.Attempt.StatusCode))
			ok.LatenciesMs = append(ok.LatenciesMs, r.Attempt.Latency.Milliseconds())
			continue
		}
		if err := w.Record(ctx, r.Claim, r.Attempt, now); err != nil && first == nil {
			first = err
		}
	}
	if len(ok.DeliveryIds) > 0 {
		ok.Now = now
		if err := w.q.RecordSuccesses(ctx, w.pool, ok); err != nil && first == nil {
			first = fmt.Errorf("record %d webhook deliveries: %w", len(ok.DeliveryIds), err)
		}
	}
	return first
}

// DeliveryRetention is how long a succeeded delivery stays in the deliveries list.
const DeliveryRetention = 7 * 24 * time.Hour

// ForgetOld deletes deliveries that succeeded more than DeliveryRetention before
// now, a thousand at most per call; it returns how many.
func (w *Webhooks) ForgetOld(ctx context.Context, now time.Time) (int64, error) {
	n, err := w.q.DeleteOldDeliveries(ctx, w.pool, now.Add(-DeliveryRetention))
	if err != nil {
		return 0, fmt.Errorf("forget old webhook deliveries: %w", err)
	}
	return n, nil
}
