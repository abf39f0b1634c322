// Package jobs runs the engine's background work on River, a job queue in
// PostgreSQL: periodic jobs are scheduled by one elected replica and worked by any,
// and every job is safe to run on several replicas at once (the ledger's own locking
// makes the work exactly-once).
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// ExpireHoldsArgs releases holds whose time is up.
type ExpireHoldsArgs struct{}

// Kind names the job.
func (ExpireHoldsArgs) Kind() string { return "ledger.expire_holds" }

// RollUpArgs folds queued system postings into system balances.
type RollUpArgs struct{}

// Kind names the job.
func (RollUpArgs) Kind() string { return "ledger.roll_up_system_balances" }

type expireHoldsWorker struct {
	river.WorkerDefaults[ExpireHoldsArgs]
	ledger *ledger.Service
	log    *slog.Logger
}

// perTx bounds one sweep (holds or pending earnings released, tiers evaluated, in
// one batch of the ledger's write path or one transaction).
const perTx = 500

// nightPerTx bounds one sweep of lot expiry and expiry reminders: with the default
// policy every member's points expire at the same instant (1 January), so these
// sweeps take large chunks, each one batch of set-based statements (docs/BULK.md,
// "Expiry night").
const nightPerTx = 5000

// nightSweep is how the expiry job and the expiry reminders sweep: parallel
// sweepers over disjoint shares of the members, nightPerTx a transaction.
func nightSweep(parallel int) ledger.NightSweep {
	return ledger.NightSweep{PerTx: nightPerTx, Parallel: parallel}
}

// logSwept logs what a night sweep did, once for the run.
func logSwept(log *slog.Logger, done string, n int, err error) error {
	if n > 0 {
		log.Info(done, "count", n)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", done, err)
	}
	return nil
}

func (w *expireHoldsWorker) Work(ctx context.Context, _ *river.Job[ExpireHoldsArgs]) error {
	return sweepAll(ctx, w.log, "released expired holds", perTx, w.ledger.ExpireHolds)
}

// sweepAll runs a ledger sweep, a batch per transaction, until a batch comes back
// short: nothing due is left (or what is left was being settled by another replica
// or a refund when the batch ran, and the next run takes it).
func sweepAll(ctx context.Context, log *slog.Logger, done string, size int, sweep func(context.Context, int32) (int, error)) error {
	for {
		n, err := sweep(ctx, int32(size))
		if err != nil {
			return fmt.Errorf("%s: %w", done, err)
		}
		if n > 0 {
			log.Info(done, "count", n)
		}
		if n < size {
			return nil
		}
	}
}

// ReleasePendingArgs makes available the points of orders whose return window is over.
type ReleasePendingArgs struct{}

// Kind names the job.
func (ReleasePendingArgs) Kind() string { return "ledger.release_pending" }

type releasePendingWorker struct {
	river.WorkerDefaults[ReleasePendingArgs]
	ledger *ledger.Service
	log    *slog.Logger
}

func (w *releasePendingWorker) Work(ctx context.Context, _ *river.Job[ReleasePendingArgs]) error {
	return sweepAll(ctx, w.log, "released pending points", perTx, w.ledger.ReleasePending)
}

// BirthdayBonusArgs grants the members whose birthday it is (in the program's time
// zone) their tier's birthday bonus, once per member and year
// (ledger.GrantBirthdays: the entry's request id is the unique key).
type BirthdayBonusArgs struct{}

// Kind names the job.
func (BirthdayBonusArgs) Kind() string { return "ledger.birthday_bonus" }

type birthdayBonusWorker struct {
	river.WorkerDefaults[BirthdayBonusArgs]
	ledger *ledger.Service
	log    *slog.Logger
}

func (w *birthdayBonusWorker) Work(ctx context.Context, _ *river.Job[BirthdayBonusArgs]) error {
	return sweepAll(ctx, w.log, "granted birthday bonuses", perTx, w.ledger.GrantBirthdays)
}

// ExpireLotsArgs moves what is left of expired lots to breakage.
type ExpireLotsArgs struct{}

// Kind names the job.
func (ExpireLotsArgs) Kind() string { return "ledger.expire_lots" }

type expireLotsWorker struct {
	river.WorkerDefaults[ExpireLotsArgs]
	ledger   *ledger.Service
	log      *slog.Logger
	parallel int
}

func (w *expireLotsWorker) Work(ctx context.Context, _ *river.Job[ExpireLotsArgs]) error {
	n, err := w.ledger.ExpireAllDue(ctx, nightSweep(w.parallel))
	return logSwept(w.log, "expired points of members", n, err)
}

// EvaluateTiersArgs renews, starts grace for or downgrades members whose tier
// period is over, and records the end of paid memberships.
type EvaluateTiersArgs struct{}

// Kind names the job.
func (EvaluateTiersArgs) Kind() string { return "tiers.evaluate" }

type evaluateTiersWorker struct {
	river.WorkerDefaults[EvaluateTiersArgs]
	tiers *tiers.Service
	log   *slog.Logger
}

func (w *evaluateTiersWorker) Work(ctx context.Context, _ *river.Job[EvaluateTiersArgs]) error {
	if err := sweepAll(ctx, w.log, "evaluated tiers of members", perTx, w.tiers.EvaluateDue); err != nil {
		return err
	}
	return sweepAll(ctx, w.log, "ended paid memberships", perTx, w.tiers.EndMemberships)
}

// RemindArgs sends the reminders that are due: points about to expire
// (points.expiring) and tiers about to be lost (tier.downgrade_due).
type RemindArgs struct{}

// Kind names the job.
func (RemindArgs) Kind() string { return "reminders.send" }

type remindWorker struct {
	river.WorkerDefaults[RemindArgs]
	ledger   *ledger.Service
	tiers    *tiers.Service
	log      *slog.Logger
	parallel int
}

func (w *remindWorker) Work(ctx context.Context, _ *river.Job[RemindArgs]) error {
	n, err := w.ledger.RemindAllExpiring(ctx, nightSweep(w.parallel))
	if err := logSwept(w.log, "expiry reminders sent", n, err); err != nil {
		return err
	}
	return sweepAll(ctx, w.log, "downgrade reminders decided", perTx, w.tiers.RemindDowngrades)
}

// AdvanceCampaignsArgs writes down campaigns' scheduled starts and ends, and tells
// the coupons that expired.
type AdvanceCampaignsArgs struct{}

// Kind names the job.
func (AdvanceCampaignsArgs) Kind() string { return "campaigns.advance_schedules" }

type advanceCampaignsWorker struct {
	river.WorkerDefaults[AdvanceCampaignsArgs]
	campaigns *campaigns.Service
	log       *slog.Logger
}

func (w *advanceCampaignsWorker) Work(ctx context.Context, _ *river.Job[AdvanceCampaignsArgs]) error {
	n, err := w.campaigns.AdvanceSchedules(ctx)
	if n > 0 {
		w.log.Info("campaigns started or ended by their schedule", "count", n)
	}
	if err != nil {
		return err
	}
	return sweepAll(ctx, w.log, "expired coupons told", perTx, w.campaigns.TellExpiredCoupons)
}

// PayReferralsArgs settles the referrals whose referred member's first order left
// its return window (campaigns.PayReferrals: both sides paid in one batch, each
// referral once whatever the replicas and restarts).
type PayReferralsArgs struct{}

// Kind names the job.
func (PayReferralsArgs) Kind() string { return "campaigns.pay_referrals" }

type payReferralsWorker struct {
	river.WorkerDefaults[PayReferralsArgs]
	campaigns *campaigns.Service
	log       *slog.Logger
}

func (w *payReferralsWorker) Work(ctx context.Context, _ *river.Job[PayReferralsArgs]) error {
	return sweepAll(ctx, w.log, "settled referrals", perTx, w.campaigns.PayReferrals)
}

// CouponAllowanceArgs issues each member, once per quota cycle, their tier's
// monthlyCouponAllowance coupons of the configured campaign
// (campaigns.IssueAllowances: the (member, cycle) row is the unique key).
type CouponAllowanceArgs struct{}

// Kind names the job.
func (CouponAllowanceArgs) Kind() string { return "campaigns.coupon_allowance" }

type couponAllowanceWorker struct {
	river.WorkerDefaults[CouponAllowanceArgs]
	campaigns *campaigns.Service
	log       *slog.Logger
	// offSaid is the last reason logged for the allowance being off: it is said
	// when it changes, not on every run.
	mu      sync.Mutex
	offSaid string
}

func (w *couponAllowanceWorker) Work(ctx context.Context, _ *river.Job[CouponAllowanceArgs]) error {
	run, err := w.campaigns.IssueAllowances(ctx, perTx)
	w.mu.Lock()
	if run.Off && run.Reason != w.offSaid {
		w.log.Info("coupon allowance off: nothing issued", "reason", run.Reason)
	}
	if run.Off {
		w.offSaid = run.Reason
	} else {
		w.offSaid = ""
	}
	w.mu.Unlock()
	if run.Members > 0 {
		w.log.Info("coupon allowances issued", "members", run.Members, "coupons", run.Coupons)
	}
	return err
}

type rollUpWorker struct {
	river.WorkerDefaults[RollUpArgs]
	ledger *ledger.Service
}

func (w *rollUpWorker) Work(ctx context.Context, _ *river.Job[RollUpArgs]) error {
	return w.ledger.RollUpSystemBalances(ctx)
}

// Options tune the runner.
type Options struct {
	// Every is how often the periodic jobs run (default 2 s).
	Every time.Duration
	// RemindEvery is how often the reminders are looked for (default a minute:
	// they are days ahead, and each look scans what comes due in the widest
	// reminder window).
	RemindEvery time.Duration
	// AllowanceEvery is how often members due their coupon allowance are looked
	// for (default a minute).
	AllowanceEvery time.Duration
	// Workers is how many jobs this replica works at once (default 2).
	Workers int
	// NightParallel is how many sweepers the expiry job and the expiry reminders
	// run at once, each over its own share of the members (default 2; docs/BULK.md,
	// "Expiry night").
	NightParallel int
	// Campaigns, when set, get their schedules advanced.
	Campaigns *campaigns.Service
	// Webhooks, when its Store is set, delivers events to the webhook endpoints.
	Webhooks Webhooks
	// Bulk, when set, runs the bulk credits.
	Bulk *bulk.Service
}

// BulkCreditsArgs works the open bulk credits (docs/BULK.md).
type BulkCreditsArgs struct{}

// Kind names the job.
func (BulkCreditsArgs) Kind() string { return "bulk.credit" }

// bulkQueue holds the bulk credits' job: it runs for seconds at a time, so it
// never holds up the other jobs.
const bulkQueue = "bulk"

// bulkRunFor is how long one run of the bulk credits' job works before it ends
// (between two chunks); the next periodic run continues.
const bulkRunFor = 10 * time.Second

type bulkCreditsWorker struct {
	river.WorkerDefaults[BulkCreditsArgs]
	bulk *bulk.Service
	log  *slog.Logger
}

func (w *bulkCreditsWorker) Work(ctx context.Context, _ *river.Job[BulkCreditsArgs]) error {
	n, err := w.bulk.Run(ctx, bulkRunFor)
	if n > 0 {
		w.log.Info("bulk credits: members credited", "count", n)
	}
	return err
}

// Runner is the River client of this replica.
type Runner struct {
	client *river.Client[pgx.Tx]
	// stopping is closed when Stop is called: long-running jobs (the webhook
	// dispatchers) end early instead of making Stop wait for them.
	stopping chan struct{}
	stopOnce sync.Once
	// bulk: this replica works bulk credits (Options.Bulk).
	bulk bool
	log  *slog.Logger
}

// New builds the runner; Start starts it.
func New(pool *pgxpool.Pool, l *ledger.Service, t *tiers.Service, log *slog.Logger, opts Options) (*Runner, error) {
	if opts.Every == 0 {
		opts.Every = 2 * time.Second
	}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	if opts.NightParallel == 0 {
		opts.NightParallel = 2
	}
	if opts.RemindEvery == 0 {
		opts.RemindEvery = time.Minute
	}
	if opts.AllowanceEvery == 0 {
		opts.AllowanceEvery = time.Minute
	}
	stopping := make(chan struct{})
	workers := river.NewWorkers()
	river.AddWorker(workers, &expireHoldsWorker{ledger: l, log: log})
	river.AddWorker(workers, &rollUpWorker{ledger: l})
	river.AddWorker(workers, &releasePendingWorker{ledger: l, log: log})
	river.AddWorker(workers, &expireLotsWorker{ledger: l, log: log, parallel: opts.NightParallel})
	river.AddWorker(workers, &birthdayBonusWorker{ledger: l, log: log})
	river.AddWorker(workers, &evaluateTiersWorker{tiers: t, log: log})
	river.AddWorker(workers, &remindWorker{ledger: l, tiers: t, log: log, parallel: opts.NightParallel})
	if opts.Campaigns != nil {
		river.AddWorker(workers, &advanceCampaignsWorker{campaigns: opts.Campaigns, log: log})
		river.AddWorker(workers, &payReferralsWorker{campaigns: opts.Campaigns, log: log})
		river.AddWorker(workers, &couponAllowanceWorker{campaigns: opts.Campaigns, log: log})
	}
	periodicEvery := func(args river.JobArgs, every time.Duration) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{RunOnStart: true})
	}
	periodic := func(args river.JobArgs) *river.PeriodicJob { return periodicEvery(args, opts.Every) }
	periodicJobs := []*river.PeriodicJob{
		periodic(ExpireHoldsArgs{}), periodic(ReleasePendingArgs{}), periodic(ExpireLotsArgs{}), periodic(RollUpArgs{}),
		periodic(EvaluateTiersArgs{}), periodicEvery(RemindArgs{}, opts.RemindEvery), periodic(BirthdayBonusArgs{}),
	}
	if opts.Campaigns != nil {
		periodicJobs = append(periodicJobs, periodic(AdvanceCampaignsArgs{}), periodic(PayReferralsArgs{}),
			// Cycles are monthly: looking every minute (each look reads every member's
			// latest cycle) is soon enough, like the reminders.
			periodicEvery(CouponAllowanceArgs{}, opts.AllowanceEvery))
	}
	if opts.Webhooks.Store != nil {
		cfg := opts.Webhooks.withDefaults()
		river.AddWorker(workers, &deliverWebhooksWorker{cfg: cfg, log: log, stopping: stopping})
		// A dispatcher runs for RunFor; one starts every half of it, so that the
		// next is running before one ends.
		periodicJobs = append(periodicJobs, river.NewPeriodicJob(river.PeriodicInterval(cfg.RunFor/2),
			func() (river.JobArgs, *river.InsertOpts) {
				return DeliverWebhooksArgs{}, &river.InsertOpts{Queue: webhookQueue}
			},
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	if opts.Bulk != nil {
		river.AddWorker(workers, &bulkCreditsWorker{bulk: opts.Bulk, log: log})
		periodicJobs = append(periodicJobs, river.NewPeriodicJob(river.PeriodicInterval(opts.Every),
			func() (river.JobArgs, *river.InsertOpts) {
				return BulkCreditsArgs{}, &river.InsertOpts{Queue: bulkQueue}
			},
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}}
	if opts.Bulk != nil {
		queues[bulkQueue] = river.QueueConfig{MaxWorkers: 1}
	}
	if opts.Webhooks.Store != nil {
		// Dispatchers run for seconds at a time: in a queue of their own, they never
		// hold up the other jobs (three: two overlapping, and room for one that
		// runs past its RunFor with attempts in flight).
		queues[webhookQueue] = river.QueueConfig{MaxWorkers: 3}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:       queues,
		Workers:      workers,
		PeriodicJobs: periodicJobs,
		// River reports its routine (job counts every few seconds) at info level;
		// only its warnings and errors are worth a line in our log.
		Logger:     slog.New(warnAndAbove{log.Handler()}).With("component", "jobs"),
		JobTimeout: time.Minute,
		// Completed runs of periodic jobs are not worth keeping long.
		CompletedJobRetentionPeriod: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("job queue client: %w", err)
	}
	return &Runner{client: client, stopping: stopping, bulk: opts.Bulk != nil, log: log}, nil
}

// Start starts working jobs (and, on the elected replica, scheduling them).
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	if r.bulk {
		// Only the elected replica schedules the periodic jobs, and a replica
		// killed while leading keeps its lease for a while: without this, a bulk
		// credit its crash interrupted would wait that long for the next run (the
		// run's advisory lock keeps the runs to one at a time anyway).
		if _, err := r.client.Insert(ctx, BulkCreditsArgs{}, &river.InsertOpts{Queue: bulkQueue}); err != nil {
			r.log.Warn("bulk credits: first run not queued; the periodic one will do", "err", err)
		}
	}
	return nil
}

// Stop stops fetching new jobs and waits for running ones to finish.
func (r *Runner) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stopping) })
	if err := r.client.Stop(ctx); err != nil {
		return fmt.Errorf("stop job queue: %w", err)
	}
	return nil
}

// warnAndAbove passes on only warnings and errors.
type warnAndAbove struct{ slog.Handler }

func (h warnAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnAndAbove) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnAndAbove{h.Handler.WithAttrs(attrs)}
}

func (h warnAndAbove) WithGroup(name string) slog.Handler {
	return warnAndAbove{h.Handler.WithGroup(name)}
}
