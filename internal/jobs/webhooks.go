package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
)

// DeliverWebhooksArgs delivers events to the webhook endpoints for a while.
type DeliverWebhooksArgs struct{}

// Kind names the job.
func (DeliverWebhooksArgs) Kind() string { return "events.deliver_webhooks" }

// webhookQueue is the River queue of the dispatchers.
const webhookQueue = "webhooks"

// Webhooks configures the delivery of events to webhook endpoints.
type Webhooks struct {
	Store  *events.Webhooks
	Sender *webhookhttp.Sender
	// Timeout bounds one attempt (default 10 s); a claim's lease outlasts it.
	Timeout time.Duration
	// Poll is how often a dispatcher looks for new events and due retries while it
	// runs (default 100 ms): the delivery lag, at most.
	Poll time.Duration
	// RunFor is how long one dispatch job runs (default 10 s). A new one is
	// scheduled every half of it, so two overlap: deliveries never wait for a
	// handover (a late schedule, a job that waits to be fetched).
	RunFor time.Duration
	// Parallel is how many attempts one dispatcher makes at once (default 16).
	Parallel int
	// Lease is how long a claimed delivery is the claimer's (default Timeout + 30 s):
	// a dispatcher that dies mid-attempt leaves its claims to others after it.
	Lease time.Duration
}

func (w Webhooks) withDefaults() Webhooks {
	if w.Timeout <= 0 {
		w.Timeout = webhookhttp.DefaultTimeout
	}
	if w.Poll <= 0 {
		w.Poll = 100 * time.Millisecond
	}
	if w.RunFor <= 0 {
		w.RunFor = 10 * time.Second
	}
	if w.Parallel <= 0 {
		w.Parallel = 16
	}
	if w.Lease <= w.Timeout {
		w.Lease = w.Timeout + 30*time.Second
	}
	return w
}

// deliverWebhooksWorker is a dispatcher: it turns new events into deliveries and
// makes the attempts that are due, until RunFor is over. Several may run at once,
// on one replica or several: each delivery is claimed by one for an attempt, and a
// member's next delivery to an endpoint waits until the one before succeeded.
type deliverWebhooksWorker struct {
	river.WorkerDefaults[DeliverWebhooksArgs]
	cfg      Webhooks
	log      *slog.Logger
	stopping <-chan struct{}
}

// Timeout lets the job run a little past RunFor, for the attempts in flight.
func (w *deliverWebhooksWorker) Timeout(*river.Job[DeliverWebhooksArgs]) time.Duration {
	return w.cfg.RunFor + 2*w.cfg.Timeout
}

func (w *deliverWebhooksWorker) Work(ctx context.Context, _ *river.Job[DeliverWebhooksArgs]) error {
	end := time.Now().Add(w.cfg.RunFor)
	if _, err := w.cfg.Store.ForgetOld(ctx, time.Now()); err != nil {
		w.log.Warn("webhook deliveries not cleaned up", "error", err)
	}
	var st stepState
	for time.Now().Before(end) && ctx.Err() == nil {
		select {
		case <-w.stopping:
			// The replica is stopping: what is left is for the next dispatcher
			// (here after a restart, or on another replica).
			return nil
		default:
		}
		n, err := w.step(ctx, &st)
		if err != nil {
			w.log.Warn("webhook dispatch", "error", err)
		}
		if n == 0 || err != nil {
			select {
			case <-ctx.Done():
			case <-w.stopping:
			case <-time.After(w.cfg.Poll):
			}
		}
	}
	return nil
}

// claimsPerStep bounds what one step claims: the attempts of a round, made at
// once, for which the sender keeps as many connections open.
const claimsPerStep = webhookhttp.MaxAttemptsInFlight

// idleClaimEvery is how often a dispatcher that found nothing to claim looks
// again when no new event came: the claim reads every pending delivery of a
// backlog (an endpoint that is down), while retries are seconds apart anyway.
const idleClaimEvery = time.Second

// stepState is what a dispatcher remembers between steps.
type stepState struct {
	lastClaim time.Time
	claimed   int
}

// step fans new events out and makes one round of due attempts; it returns how
// many attempts it made.
func (w *deliverWebhooksWorker) step(ctx context.Context, st *stepState) (int, error) {
	made, err := w.cfg.Store.FanOut(ctx, time.Now())
	if err != nil {
		return 0, err
	}
	if made == 0 && st.claimed == 0 && time.Since(st.lastClaim) < idleClaimEvery {
		return 0, nil
	}
	// The lease outlasts the attempt and the recording of its result.
	claims, err := w.cfg.Store.ClaimDue(ctx, time.Now(), w.cfg.Lease, claimsPerStep)
	if err != nil {
		return 0, err
	}
	st.lastClaim, st.claimed = time.Now(), len(claims)
	r := &round{done: make(chan struct{}, len(claims))}
	slots := make(chan struct{}, w.cfg.Parallel)
	for _, c := range claims {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			res := events.Result{Claim: c, Attempt: w.attempt(ctx, c)}
			if !r.add(res) {
				// The round was recorded without it (a slow attempt): its result
				// is recorded on its own.
				w.record(ctx, []events.Result{res})
			}
		}()
	}
	// The round's successes commit together, once its attempts are done, or once a
	// straggler has held the others for straggleWait: one slow endpoint does not
	// hold back the members whose deliveries in the round went through.
	wait := time.NewTimer(straggleWait)
	defer wait.Stop()
	for n := 0; n < len(claims); n++ {
		select {
		case <-r.done:
			continue
		case <-wait.C:
		}
		break
	}
	w.record(ctx, r.close())
	return len(claims), nil
}

// straggleWait is how long a round's recorded results wait for its slowest attempts.
const straggleWait = 500 * time.Millisecond

// round gathers the results of a round of attempts until it is closed.
type round struct {
	mu     sync.Mutex
	closed bool
	got    []events.Result
	done   chan struct{}
}

// add adds a result unless the round was closed (then it is the caller's).
func (r *round) add(res events.Result) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.got = append(r.got, res)
	r.done <- struct{}{}
	return true
}

// close ends the round and returns what it gathered.
func (r *round) close() []events.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.got
}

// record writes results. They are owed even when the job is being stopped:
// without them the deliveries wait for their leases to end and are attempted again.
func (w *deliverWebhooksWorker) record(ctx context.Context, results []events.Result) {
	if len(results) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.cfg.Store.RecordAll(rctx, results, time.Now()); err != nil {
		w.log.Warn("webhook delivery results not recorded", "error", err)
	}
}

// attempt makes one attempt of a claimed delivery.
func (w *deliverWebhooksWorker) attempt(ctx context.Context, c events.Claim) events.Attempt {
	r := w.cfg.Sender.Send(ctx, webhookhttp.Delivery{URL: c.URL, ID: c.EventID, Time: time.Now(), Body: c.Body, Secrets: c.Secrets})
	a := events.Attempt{OK: r.OK(), StatusCode: r.StatusCode, Latency: r.Latency}
	if r.Err != nil {
		a.Error = r.Err.Error()
	}
	return a
}
