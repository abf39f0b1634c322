package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/protobuf/proto"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

func (c *client) bulk() loyaltyv1.BulkCreditServiceClient {
	return loyaltyv1.NewBulkCreditServiceClient(c.conn)
}

func init() {
	commands["bulk"] = map[string]command{
		"credit": {args: "--points N --reason TEXT (--tier T | --members A,B | --csv FILE | --rule CEL | --all) [--campaign ID] [--expiry T] [--no-follow]",
			help:    "credit many members at once (admin; a marketer with --campaign): follows the job with a progress bar and exits non-zero if members failed",
			follows: true,
			run:     bulkCredit},
		"status": {args: "BULK_CREDIT_ID", help: "a bulk credit's progress",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.bulk().GetBulkCredit(ctx, &loyaltyv1.GetBulkCreditRequest{BulkCreditId: id})
			})},
		"list": {help: "bulk credits, newest first",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				if _, err := parse(fs, args, 0); err != nil {
					return nil, err
				}
				return c.bulk().ListBulkCredits(ctx, &loyaltyv1.ListBulkCreditsRequest{})
			}},
		"pause": {args: "BULK_CREDIT_ID", help: "stop at the next chunk",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.bulk().PauseBulkCredit(ctx, &loyaltyv1.PauseBulkCreditRequest{BulkCreditId: id})
			})},
		"resume": {args: "BULK_CREDIT_ID", help: "continue where it stopped",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.bulk().ResumeBulkCredit(ctx, &loyaltyv1.ResumeBulkCreditRequest{BulkCreditId: id})
			})},
		"cancel": {args: "BULK_CREDIT_ID", help: "end it; what was credited stays",
			run: byID(func(ctx context.Context, c *client, id string) (proto.Message, error) {
				return c.bulk().CancelBulkCredit(ctx, &loyaltyv1.CancelBulkCreditRequest{BulkCreditId: id})
			})},
		"failures": {args: "BULK_CREDIT_ID [--page-size N] [--page-token T]", help: "the members that could not be credited, and why",
			run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
				size := fs.Int("page-size", 0, "failures per page, 1-1000 (default 100)")
				token := fs.String("page-token", "", "nextPageToken of the previous page")
				pos, err := parse(fs, args, 1)
				if err != nil {
					return nil, err
				}
				pageSize, err := int32Flag(*size)
				if err != nil {
					return nil, err
				}
				return c.bulk().ListBulkCreditFailures(ctx, &loyaltyv1.ListBulkCreditFailuresRequest{BulkCreditId: pos[0], PageSize: pageSize, PageToken: *token})
			}},
	}
}

func bulkCredit(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
	points := fs.Int64("points", 0, "points for every member (a CSV row may give its own)")
	reason := fs.String("reason", "", "why: every member's entry carries it")
	tier := fs.String("tier", "", "every member whose tier this is")
	members := fs.String("members", "", "these members, comma-separated")
	csvFile := fs.String("csv", "", "the members in a CSV file: memberId[,points] a line")
	rule := fs.String("rule", "", "every member this CEL rule over member (tierId, memberId, joinTime) holds for")
	all := fs.Bool("all", false, "every member")
	campaign := fs.String("campaign", "", "fund the credits from this campaign's points budget")
	expiry := timeFlag(fs, "expiry", "the points expire at this RFC 3339 time (default: the program's policy)")
	noFollow := fs.Bool("no-follow", false, "answer the bulk credit at once instead of following it")
	every := fs.Duration("every", 500*time.Millisecond, "how often the progress is read")
	fs.String("request-id", "", requestIDHelp)
	pos, err := parse(fs, args, 0)
	if err != nil {
		return nil, err
	}
	target := &loyaltyv1.BulkCreditTarget{Tier: *tier, Rule: *rule, All: *all}
	var extra []string
	if *members != "" {
		for _, m := range splitList(*members) {
			target.Members = append(target.Members, &loyaltyv1.BulkCreditMember{MemberId: m})
		}
	}
	if *csvFile != "" {
		raw, err := os.ReadFile(*csvFile)
		if err != nil {
			return nil, fmt.Errorf("read --csv: %w", err)
		}
		target.Csv, extra = string(raw), []string{string(raw)}
	}
	resp, err := c.bulk().CreateBulkCredit(ctx, &loyaltyv1.CreateBulkCreditRequest{RequestId: c.requestID(fs, pos, extra...),
		Points: *points, Reason: *reason, Target: target, CampaignId: *campaign, Expiry: *expiry})
	if err != nil {
		return nil, err
	}
	if *noFollow {
		return resp.GetBulkCredit(), nil
	}
	return follow(ctx, c, resp.GetBulkCredit(), *every)
}

// follow reads a bulk credit's progress until it ends, drawing a bar with rate and
// ETA on stderr; it answers the bulk credit as it ended, and an error with a
// summary when members failed or it did not succeed.
func follow(ctx context.Context, c *client, b *loyaltyv1.BulkCredit, every time.Duration) (proto.Message, error) {
	bar := newBar(c.stderr, b)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !ended(b.GetStatus()) {
		select {
		case <-ctx.Done():
			_ = bar.Exit()
			fmt.Fprintf(c.stderr, "\nstopped following; the bulk credit goes on: loyaltyctl bulk status %s\n", b.GetBulkCreditId())
			return b, nil
		case <-tick.C:
		}
		resp, err := c.bulk().GetBulkCredit(ctx, &loyaltyv1.GetBulkCreditRequest{BulkCreditId: b.GetBulkCreditId()})
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return nil, err
		}
		b = resp.GetBulkCredit()
		if b.GetPrepared() && bar.GetMax64() != b.GetTotal() {
			bar.ChangeMax64(max(b.GetTotal(), 1))
		}
		bar.Describe(strings.ToLower(b.GetStatus()))
		_ = bar.Set64(b.GetDone() + b.GetFailed())
	}
	_ = bar.Finish()
	fmt.Fprintln(c.stderr)
	fmt.Fprintf(c.stderr, "bulk credit %s %s: %d of %d members credited (%d points), %d failed\n",
		b.GetBulkCreditId(), b.GetStatus(), b.GetDone(), b.GetTotal(), b.GetPointsCredited(), b.GetFailed())
	switch {
	case b.GetFailed() > 0:
		return b, fmt.Errorf("%w: %d members failed; see loyaltyctl bulk failures %s", errPartly, b.GetFailed(), b.GetBulkCreditId())
	case b.GetStatus() != "SUCCEEDED":
		return b, fmt.Errorf("%w: it ended %s", errPartly, b.GetStatus())
	}
	return b, nil
}

// errPartly: the command did its work only in part (the answer is printed too).
var errPartly = errors.New("bulk credit did not credit every member")

func ended(status string) bool {
	return status == "SUCCEEDED" || status == "CANCELLED" || status == "BUDGET_EXHAUSTED"
}

func newBar(w io.Writer, b *loyaltyv1.BulkCredit) *progressbar.ProgressBar {
	total := b.GetTotal()
	if !b.GetPrepared() || total == 0 {
		total = -1 // unknown while the members are listed: a spinner
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(strings.ToLower(b.GetStatus())),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("members"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30))
}
