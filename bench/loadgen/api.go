package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// target is the server under test: a keep-alive HTTP client for REST and a few
// shared gRPC connections.
type target struct {
	restBase string // http://127.0.0.1:18080, no trailing slash
	key      string
	points   int64
	timeout  time.Duration
	http     *http.Client

	grpcConns []*grpc.ClientConn
	members   []loyaltyv1.MemberServiceClient // one per connection
	pointsSvc []loyaltyv1.PointsServiceClient

	memberIDs   []string
	earnPaths   []string // /v1/members/bench-17:earn
	redeemPaths []string // /v1/members/bench-17:redeem
	balancePath []string // /v1/members/bench-17/balance
	memberPath  []string // /v1/members/bench-17
	perksPath   []string // /v1/members/bench-17/perks
	actPath     []string // /v1/members/bench-17/activities

	hooks *hookRun // while rest-earn-webhook runs
}

func newTarget(restBase, grpcAddr, key string, points int64, members, workers, grpcConns int, timeout time.Duration) (*target, error) {
	t := &target{
		restBase: restBase, key: key, points: points, timeout: timeout,
		http: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // never through a proxy: the server is local
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * workers,
			MaxIdleConnsPerHost: 2 * workers,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}},
	}
	for i := 0; i < grpcConns; i++ {
		cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithNoProxy())
		if err != nil {
			t.close()
			return nil, fmt.Errorf("gRPC client for %s: %w", grpcAddr, err)
		}
		t.grpcConns = append(t.grpcConns, cc)
		t.members = append(t.members, loyaltyv1.NewMemberServiceClient(cc))
		t.pointsSvc = append(t.pointsSvc, loyaltyv1.NewPointsServiceClient(cc))
	}
	for i := 0; i < members; i++ {
		id := "bench-" + strconv.Itoa(i)
		esc := url.PathEscape(id)
		t.memberIDs = append(t.memberIDs, id)
		t.earnPaths = append(t.earnPaths, "/v1/members/"+esc+":earn")
		t.redeemPaths = append(t.redeemPaths, "/v1/members/"+esc+":redeem")
		t.balancePath = append(t.balancePath, "/v1/members/"+esc+"/balance")
		t.memberPath = append(t.memberPath, "/v1/members/"+esc)
		t.perksPath = append(t.perksPath, "/v1/members/"+esc+"/perks")
		t.actPath = append(t.actPath, "/v1/members/"+esc+"/activities")
	}
	return t, nil
}

func (t *target) close() {
	for _, cc := range t.grpcConns {
		_ = cc.Close()
	}
	t.http.CloseIdleConnections()
}

// rest sends one call and reads the whole answer (so the connection is reused). A
// non-2xx answer is an *httpStatusError carrying the start of the body.
func (t *target) rest(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.restBase+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("REST %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("REST %s %s: read answer: %w", method, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &httpStatusError{method: method, path: path, status: resp.StatusCode, body: problemMessage(b)}
	}
	return b, nil
}

// problemMessage is the message of an error answer ({"code":3,"message":"..."}), or
// the start of the body if it is not one.
func problemMessage(body []byte) string {
	var p struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &p) == nil && p.Message != "" {
		return p.Message
	}
	return oneLine(string(body), 200)
}

// grpcCtx adds the bearer key and the per-call timeout.
func (t *target) grpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+t.key)
	return context.WithTimeout(ctx, t.timeout)
}

func grpcErr(method string, err error) error {
	st := status.Convert(err)
	return fmt.Errorf("gRPC %s: %s: %s", method, st.Code(), st.Message())
}

// enroll enrolls one member over REST; created tells whether it was new.
func (t *target) enroll(ctx context.Context, member int) (created bool, err error) {
	body := []byte(`{"memberId":"` + t.memberIDs[member] + `"}`)
	b, err := t.rest(ctx, http.MethodPost, "/v1/members", body)
	if err != nil {
		return false, err
	}
	var resp struct {
		Created bool `json:"created"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return false, fmt.Errorf("REST POST /v1/members: decode answer: %w", err)
	}
	// Every member starts with points to redeem (once: a repeat of the request
	// answers the first result).
	fund := []byte(`{"requestId":"lg-fund","points":"` + strconv.Itoa(fundPoints) + `"}`)
	if _, err := t.rest(ctx, http.MethodPost, t.earnPaths[member], fund); err != nil {
		return false, err
	}
	return resp.Created, nil
}

// fundPoints is what every bench member gets when enrolled, so that rest-redeem
// never runs out.
const fundPoints = 1000

// call is one request of a scenario, sent by worker w.
type call func(ctx context.Context, t *target, w *worker) error

// scenarios are the workloads, by name.
var scenarios = map[string]call{
	"rest-earn": func(ctx context.Context, t *target, w *worker) error {
		m := w.member()
		body := []byte(`{"requestId":"` + w.requestID() + `","points":"` + strconv.FormatInt(t.points, 10) + `"}`)
		_, err := t.rest(ctx, http.MethodPost, t.earnPaths[m], body)
		return err
	},
	"grpc-earn": func(ctx context.Context, t *target, w *worker) error {
		m := w.member()
		ctx, cancel := t.grpcCtx(ctx)
		defer cancel()
		_, err := t.pointsSvc[w.conn].Earn(ctx, &loyaltyv1.EarnRequest{
			MemberId: t.memberIDs[m], RequestId: w.requestID(), Points: t.points,
		})
		if err != nil {
			return grpcErr("Earn", err)
		}
		return nil
	},
	// An order's earning: a spend at the program's rate, pending through the return
	// window, with the order recorded for refunds.
	"rest-order-earn": orderEarn,
	// Redeems one point, consuming the member's lots earliest expiry first (run it
	// after the earn scenarios, which give every member points).
	"rest-redeem": func(ctx context.Context, t *target, w *worker) error {
		body := []byte(`{"requestId":"` + w.requestID() + `","points":"1"}`)
		_, err := t.rest(ctx, http.MethodPost, t.redeemPaths[w.member()], body)
		return err
	},
	"rest-balance": func(ctx context.Context, t *target, w *worker) error {
		_, err := t.rest(ctx, http.MethodGet, t.balancePath[w.member()], nil)
		return err
	},
	"grpc-balance": func(ctx context.Context, t *target, w *worker) error {
		ctx, cancel := t.grpcCtx(ctx)
		defer cancel()
		_, err := t.pointsSvc[w.conn].GetBalance(ctx, &loyaltyv1.GetBalanceRequest{MemberId: t.memberIDs[w.member()]})
		if err != nil {
			return grpcErr("GetBalance", err)
		}
		return nil
	},
	// The member's effective tier, perks and progress: what support desks and
	// refund systems ask before they act (run it after rest-order-earn, which
	// gives members a metric and a tier).
	"rest-perks": func(ctx context.Context, t *target, w *worker) error {
		_, err := t.rest(ctx, http.MethodGet, t.perksPath[w.member()], nil)
		return err
	},
	// An order's earning while a points campaign runs: the campaign takes its
	// bonus from its budget in the earning's own transaction (set up by setUp).
	"rest-campaign-earn": orderEarn,
	// A member's activity (a photo review of an order line) under an
	// ACTIVITY_REWARD campaign with daily and monthly caps far above what the run
	// reaches (set up by setUp): the caps are counted, the budget taken from and an
	// ACTIVITY entry posted in the group commit's batch, as an order's earning is.
	"rest-activity": func(ctx context.Context, t *target, w *worker) error {
		id := w.requestID()
		body := []byte(`{"requestId":"` + id + `","type":"REVIEW_WITH_PHOTO","activityKey":"` + id + `"}`)
		_, err := t.rest(ctx, http.MethodPost, t.actPath[w.member()], body)
		return err
	},
	// rest-earn with a webhook endpoint for every event type at a receiver in the
	// load generator (set up by setUp): the delivery lag, and what delivering
	// costs the earn path.
	webhookScenario: webhookEarn,
	// Reads that do not need the ledger: a baseline for the harness itself.
	"rest-member": func(ctx context.Context, t *target, w *worker) error {
		_, err := t.rest(ctx, http.MethodGet, t.memberPath[w.member()], nil)
		return err
	},
	"grpc-member": func(ctx context.Context, t *target, w *worker) error {
		ctx, cancel := t.grpcCtx(ctx)
		defer cancel()
		_, err := t.members[w.conn].GetMember(ctx, &loyaltyv1.GetMemberRequest{MemberId: t.memberIDs[w.member()]})
		if err != nil {
			return grpcErr("GetMember", err)
		}
		return nil
	},
}

var scenarioOrder = []string{"rest-earn", "grpc-earn", "rest-order-earn", "rest-redeem", "rest-balance", "grpc-balance", "rest-perks", "rest-campaign-earn", "rest-activity", webhookScenario, "rest-member", "grpc-member"}

// setUp prepares what a scenario needs and returns how to undo it. rest-campaign-earn
// runs under a points campaign (150%: half the base as a bonus, a budget far above
// what the run grants) scheduled to end by itself shortly after the scenario, and
// ended explicitly when the scenario is over, so that no later scenario or run earns
// under it.
func setUp(ctx context.Context, t *target, scenario string, length time.Duration) (teardown func(), err error) {
	if scenario == webhookScenario {
		if t.hooks, err = startHooks(ctx, t); err != nil {
			return nil, err
		}
		return func() { t.hooks.stop(ctx, t); t.hooks = nil }, nil
	}
	end := time.Now().UTC().Add(length + time.Minute).Format("2006-01-02T15:04:05")
	var body []byte
	switch scenario {
	case "rest-campaign-earn":
		body = []byte(`{"displayName":"loadgen campaign","type":"POINTS_MULTIPLIER","multiplierPercent":150,` +
			`"schedule":{"endTime":"` + end + `","timeZone":"UTC"},"budget":{"points":"1000000000000"}}`)
	case "rest-activity":
		body = []byte(`{"displayName":"loadgen reviews","type":"ACTIVITY_REWARD",` +
			`"activity":{"activityTypes":["REVIEW_WITH_PHOTO"],"points":"10","caps":{"perDay":1000,"perMonth":10000,"perActivityKey":1}},` +
			`"schedule":{"endTime":"` + end + `","timeZone":"UTC"},"budget":{"points":"1000000000000"}}`)
	default:
		return func() {}, nil
	}
	b, err := t.rest(ctx, http.MethodPost, "/v1/campaigns", body)
	if err != nil {
		return nil, err
	}
	var c struct {
		CampaignID string `json:"campaignId"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.CampaignID == "" {
		return nil, fmt.Errorf("create campaign: answer %q", oneLine(string(b), 200))
	}
	if _, err := t.rest(ctx, http.MethodPost, "/v1/campaigns/"+c.CampaignID+":activate", []byte(`{}`)); err != nil {
		return nil, err
	}
	// Grants check the campaign under lock; the replicas' lists of running
	// campaigns catch up within a second.
	time.Sleep(1100 * time.Millisecond)
	return func() {
		_, _ = t.rest(context.WithoutCancel(ctx), http.MethodPost, "/v1/campaigns/"+c.CampaignID+":end", []byte(`{}`))
	}, nil
}

// orderEarn is an order's earning: a spend at the program's rate, pending through
// the return window, with the order recorded for refunds.
func orderEarn(ctx context.Context, t *target, w *worker) error {
	m := w.member()
	id := w.requestID()
	body := []byte(`{"requestId":"` + id + `","orderId":"` + id + `","spend":{"amountMinor":"` +
		strconv.FormatInt(t.points*100, 10) + `","currency":"CNY"}}`)
	_, err := t.rest(ctx, http.MethodPost, t.earnPaths[m], body)
	return err
}
