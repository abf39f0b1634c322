package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// auditRow is what a test expects of one record of the audit log.
type auditRow struct {
	keyID, method, target, memberID, requestID, outcome, reason string
}

// auditLog reads the whole log through REST (as the auditor), newest first, page
// by page; query holds the filters.
func auditLog(t *testing.T, env *apitest.Env, auditor string, query url.Values) []map[string]any {
	t.Helper()
	var all []map[string]any
	token := ""
	for range 100 {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("pageSize", "3")
		if token != "" {
			q.Set("pageToken", token)
		}
		body := must200(t, "audit log", env.REST("GET", "/v1/auditLog?"+q.Encode(), auditor, nil)).Body
		records, _ := body["records"].([]any)
		for _, r := range records {
			all = append(all, r.(map[string]any))
		}
		if token, _ = body["nextPageToken"].(string); token == "" {
			return all
		}
	}
	t.Fatal("the audit log does not end")
	return nil
}

func findRecord(records []map[string]any, want auditRow) bool {
	for _, r := range records {
		if r["keyId"] == want.keyID && r["method"] == want.method && r["target"] == want.target &&
			r["memberId"] == want.memberID && r["requestId"] == want.requestID && r["outcome"] == want.outcome && r["reason"] == want.reason {
			return true
		}
	}
	return false
}

func keyIDOf(t *testing.T, env *apitest.Env, secret string) string {
	t.Helper()
	k, err := env.App.Keys.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// A sample of writes on both transports, a refusal and a forbidden call: each is
// recorded once with its key, method, target, requestId and outcome; reads are not
// recorded; the ledger's records commit in their entries' transactions.
func TestAuditTrailRecordsWritesOnBothTransports(t *testing.T) {
	env := apitest.Start(t)
	app, agent, marketer, auditor := env.Key(access.RoleApp), env.Key(access.RoleAgent), env.Key(access.RoleMarketer), env.Key(access.RoleAuditor)
	appID, agentID, marketerID := keyIDOf(t, env, app), keyIDOf(t, env, agent), keyIDOf(t, env, marketer)
	adminID := keyIDOf(t, env, apitest.AdminKey)
	points := loyaltyv1.NewPointsServiceClient(env.Conn)

	must200(t, "enroll", env.REST("POST", "/v1/members", app, map[string]any{"memberId": "aud-1"}))
	if _, err := points.Earn(env.Ctx(app), &loyaltyv1.EarnRequest{MemberId: "aud-1", RequestId: "aud-earn-1", Points: 500}); err != nil {
		t.Fatal(err)
	}
	must200(t, "redeem", env.REST("POST", "/v1/members/aud-1:redeem", app, map[string]any{"points": 100}, "Idempotency-Key", "aud-redeem-1"))
	must200(t, "goodwill", env.REST("POST", "/v1/members/aud-1:grantGoodwill", agent, map[string]any{
		"requestId": "aud-gw-1", "points": 50, "reasonCode": "LATE_DELIVERY", "ticketId": "ZD-1"}))
	// Above the agent's limits: an approval, no entry.
	must200(t, "goodwill for approval", env.REST("POST", "/v1/members/aud-1:grantGoodwill", agent, map[string]any{
		"requestId": "aud-gw-2", "points": 800, "reasonCode": "DAMAGED_ITEM", "ticketId": "ZD-2"}))
	cmp, err := loyaltyv1.NewCampaignServiceClient(env.Conn).CreateCampaign(env.Ctx(marketer), &loyaltyv1.CreateCampaignRequest{
		RequestId: "aud-cmp-1", DisplayName: "Audit double points", Type: "POINTS_MULTIPLIER", MultiplierPercent: 200})
	if err != nil {
		t.Fatal(err)
	}
	created := must200(t, "create key", env.REST("POST", "/v1/apiKeys", apitest.AdminKey, map[string]any{"name": "audit", "role": "app"})).Body
	refused(t, "redeem too much", env.REST("POST", "/v1/members/aud-1:redeem", app, map[string]any{"requestId": "aud-redeem-2", "points": 99999}),
		http.StatusBadRequest, "INSUFFICIENT_POINTS")
	_, err = points.Earn(env.Ctx(agent), &loyaltyv1.EarnRequest{MemberId: "aud-1", RequestId: "aud-earn-2", Points: 1})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent earn: %v, want PermissionDenied", err)
	}
	refused(t, "earn without points", env.REST("POST", "/v1/members/aud-1:earn", app, map[string]any{"requestId": "aud-earn-3"}),
		http.StatusBadRequest, "INVALID_ARGUMENT")
	// Refused by the REST front door or the body decoder, before the gRPC server.
	if r := env.REST("POST", "/v1/members/aud-1:earn", agent, map[string]any{"points": 1}, "Idempotency-Key", "aud-earn-5"); r.Status != http.StatusForbidden {
		t.Fatalf("agent earn on REST: %d %s", r.Status, r.Raw)
	}
	if r := env.REST("POST", "/v1/members/aud-1:earn", app, `{"points": 1, "pionts": 2}`, "Idempotency-Key", "aud-earn-6"); r.Status != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", r.Status, r.Raw)
	}
	// Hostile text is recorded as text PostgreSQL can hold.
	_, err = points.Earn(env.Ctx(app), &loyaltyv1.EarnRequest{MemberId: "aud\x00-1", RequestId: "aud-earn-7", Points: 1})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("NUL in memberId: %v", err)
	}
	// Reads are not recorded; calls without a valid key are by no key, so neither.
	must200(t, "balance", env.REST("GET", "/v1/members/aud-1/balance", app, nil))
	if r := env.REST("POST", "/v1/members/aud-1:earn", "lk_nope", map[string]any{"requestId": "aud-earn-4", "points": 1}); r.Status != http.StatusUnauthorized {
		t.Fatalf("unknown key: %d", r.Status)
	}

	records := auditLog(t, env, auditor, nil)
	for _, want := range []auditRow{
		{appID, loyaltyv1.MemberService_EnrollMember_FullMethodName, "members/aud-1", "aud-1", "", "OK", ""},
		{appID, loyaltyv1.PointsService_Earn_FullMethodName, "members/aud-1", "aud-1", "aud-earn-1", "OK", ""},
		{appID, loyaltyv1.PointsService_Redeem_FullMethodName, "members/aud-1", "aud-1", "aud-redeem-1", "OK", ""},
		{agentID, loyaltyv1.GoodwillService_GrantGoodwill_FullMethodName, "members/aud-1", "aud-1", "aud-gw-1", "OK", ""},
		{agentID, loyaltyv1.GoodwillService_GrantGoodwill_FullMethodName, "members/aud-1", "aud-1", "aud-gw-2", "OK", ""},
		{marketerID, loyaltyv1.CampaignService_CreateCampaign_FullMethodName, "campaigns/" + cmp.GetCampaign().GetCampaignId(), "", "aud-cmp-1", "OK", ""},
		{adminID, loyaltyv1.ApiKeyService_CreateApiKey_FullMethodName, "apiKeys/" + created["keyId"].(string), "", "", "OK", ""},
		{appID, loyaltyv1.PointsService_Redeem_FullMethodName, "members/aud-1", "aud-1", "aud-redeem-2", "FAILED_PRECONDITION", "INSUFFICIENT_POINTS"},
		{agentID, loyaltyv1.PointsService_Earn_FullMethodName, "members/aud-1", "aud-1", "aud-earn-2", "PERMISSION_DENIED", "PERMISSION_DENIED"},
		{appID, loyaltyv1.PointsService_Earn_FullMethodName, "members/aud-1", "aud-1", "aud-earn-3", "INVALID_ARGUMENT", "INVALID_ARGUMENT"},
		{agentID, loyaltyv1.PointsService_Earn_FullMethodName, "members/aud-1", "aud-1", "aud-earn-5", "PERMISSION_DENIED", "PERMISSION_DENIED"},
		{appID, loyaltyv1.PointsService_Earn_FullMethodName, "members/aud-1", "aud-1", "aud-earn-6", "INVALID_ARGUMENT", "UNKNOWN_FIELD"},
		{appID, loyaltyv1.PointsService_Earn_FullMethodName, "members/aud\uFFFD-1", "aud\uFFFD-1", "aud-earn-7", "INVALID_ARGUMENT", "INVALID_ARGUMENT"},
	} {
		if !findRecord(records, want) {
			t.Errorf("no audit record %+v in\n%v", want, records)
		}
	}
	if len(records) != 13 {
		t.Errorf("%d audit records, want the 13 calls with a key that write: %v", len(records), records)
	}
	for _, r := range records {
		if r["method"] == loyaltyv1.PointsService_GetBalance_FullMethodName {
			t.Errorf("a read is recorded: %v", r)
		}
	}

	// The money's records are written in the transactions of their entries.
	var apart int
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log a JOIN entries e ON e.member_id = a.member_id AND e.request_id = a.request_id
		WHERE a.xmin::text <> e.xmin::text`).Scan(&apart); err != nil {
		t.Fatal(err)
	}
	var together int
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log a JOIN entries e ON e.member_id = a.member_id AND e.request_id = a.request_id
		WHERE a.xmin::text = e.xmin::text`).Scan(&together); err != nil {
		t.Fatal(err)
	}
	if apart != 0 || together != 3 {
		t.Errorf("%d ledger records in their entry's transaction (want 3: earn, redeem, goodwill), %d apart from it", together, apart)
	}

	// So is the approval's, written last in the ledger's transaction.
	var approvalTogether bool
	if err := env.Pool.QueryRow(t.Context(), `SELECT a.xmin::text = g.xmin::text FROM audit_log a
		JOIN goodwill_approvals g ON g.member_id = a.member_id AND g.request_id = a.request_id WHERE a.request_id = 'aud-gw-2'`).Scan(&approvalTogether); err != nil {
		t.Fatal(err)
	}
	if !approvalTogether {
		t.Error("the record of a goodwill grant waiting for approval is not in the approval's transaction")
	}

	// Filters, newest first.
	byMember := auditLog(t, env, auditor, url.Values{"memberId": {"aud-1"}, "method": {loyaltyv1.PointsService_Earn_FullMethodName}})
	if len(byMember) != 5 || byMember[0]["requestId"] != "aud-earn-6" || byMember[4]["requestId"] != "aud-earn-1" {
		t.Errorf("earns of aud-1, newest first: %v", byMember)
	}
	if byKey := auditLog(t, env, auditor, url.Values{"keyId": {marketerID}}); len(byKey) != 1 {
		t.Errorf("the marketer's calls: %v", byKey)
	}
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if later := auditLog(t, env, auditor, url.Values{"startTime": {future}}); len(later) != 0 {
		t.Errorf("calls after tomorrow: %v", later)
	}
	if upToNow := auditLog(t, env, auditor, url.Values{"endTime": {future}}); len(upToNow) != len(records) {
		t.Errorf("calls before tomorrow: %d of %d", len(upToNow), len(records))
	}

	// Bad queries name the field; the log is for admins and auditors only.
	for _, tc := range []struct{ query, field string }{
		{"startTime=2027-01-02T00:00:00Z&endTime=2027-01-01T00:00:00Z", "endTime"},
		{"pageSize=201", "pageSize"},
		{"pageToken=bogus", "pageToken"},
		{"method=Earn", "method"},
	} {
		r := env.REST("GET", "/v1/auditLog?"+tc.query, auditor, nil)
		if r.Status != http.StatusBadRequest || len(r.FieldViolations()) != 1 || r.FieldViolations()[0] != tc.field {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.query, r.Status, r.Raw, tc.field)
		}
	}
	if r := env.REST("GET", "/v1/auditLog", app, nil); r.Status != http.StatusForbidden {
		t.Errorf("an app key reads the audit log: %d", r.Status)
	}
	if _, err := loyaltyv1.NewAuditServiceClient(env.Conn).ListAuditLog(env.Ctx(auditor), &loyaltyv1.ListAuditLogRequest{KeyId: appID}); err != nil {
		t.Errorf("gRPC list: %v", err)
	}
}

// Many concurrent earns go through group commit, some of them repeats and some
// refused: every call is recorded exactly once, and every entry has exactly one
// record, written in the entry's own transaction.
func TestAuditUnderGroupCommit(t *testing.T) {
	env := apitest.Start(t)
	app, auditor := env.Key(access.RoleApp), env.Key(access.RoleAuditor)
	points := loyaltyv1.NewPointsServiceClient(env.Conn)
	const members, perMember = 8, 12
	for m := range members {
		must200(t, "enroll", env.REST("POST", "/v1/members", app, map[string]any{"memberId": fmt.Sprintf("gc-%d", m)}))
	}
	type result struct {
		requestID string
		code      codes.Code
	}
	results := make(chan result, members*perMember*2)
	var wg sync.WaitGroup
	for m := range members {
		for i := range perMember {
			wg.Add(1)
			go func() {
				defer wg.Done()
				member, requestID := fmt.Sprintf("gc-%d", m), fmt.Sprintf("gc-%d-%d", m, i)
				ctx := metadata.AppendToOutgoingContext(env.Ctx(app), "x-request-id", requestID)
				var err error
				switch i % 4 {
				case 3: // more than anyone has: refused
					_, err = points.Redeem(ctx, &loyaltyv1.RedeemRequest{MemberId: member, RequestId: requestID, Points: 1_000_000})
				default:
					_, err = points.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: member, RequestId: requestID, Points: 10})
				}
				results <- result{requestID, status.Code(err)}
				if i%4 == 0 { // and a repeat, racing the first
					_, err = points.Earn(ctx, &loyaltyv1.EarnRequest{MemberId: member, RequestId: requestID, Points: 10})
					results <- result{requestID, status.Code(err)}
				}
			}()
		}
	}
	wg.Wait()
	close(results)
	calls := map[string]map[string]int{} // requestId -> outcome -> calls
	total := 0
	for r := range results {
		if calls[r.requestID] == nil {
			calls[r.requestID] = map[string]int{}
		}
		name := map[codes.Code]string{codes.OK: "OK", codes.FailedPrecondition: "FAILED_PRECONDITION"}[r.code]
		if name == "" {
			t.Fatalf("%s: unexpected %v", r.requestID, r.code)
		}
		calls[r.requestID][name]++
		total++
	}

	records := auditLog(t, env, auditor, url.Values{"keyId": {keyIDOf(t, env, app)}})
	recorded := map[string]map[string]int{}
	n := 0
	for _, r := range records {
		if r["method"] == loyaltyv1.MemberService_EnrollMember_FullMethodName {
			continue
		}
		id, outcome := r["requestId"].(string), r["outcome"].(string)
		if recorded[id] == nil {
			recorded[id] = map[string]int{}
		}
		recorded[id][outcome]++
		n++
	}
	if n != total {
		t.Errorf("%d records of %d calls", n, total)
	}
	for id, outcomes := range calls {
		for outcome, count := range outcomes {
			if recorded[id][outcome] != count {
				t.Errorf("%s: %d calls answered %s, %d recorded", id, count, outcome, recorded[id][outcome])
			}
		}
	}
	var entries, inTx int
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*),
		count(*) FILTER (WHERE (SELECT count(*) FROM audit_log a WHERE a.member_id = e.member_id AND a.request_id = e.request_id
		                        AND a.xmin::text = e.xmin::text) = 1)
		FROM entries e WHERE e.member_id LIKE 'gc-%'`).Scan(&entries, &inTx); err != nil {
		t.Fatal(err)
	}
	if want := members * perMember * 3 / 4; entries != want || inTx != entries {
		t.Errorf("%d entries (want %d), %d with exactly one record in their own transaction", entries, want, inTx)
	}
	// And the group committer did commit several calls at once.
	sum, _ := env.Metric("loyalty_ledger_commit_batch_entries_sum")
	count, _ := env.Metric("loyalty_ledger_commit_batch_entries_count")
	if count == 0 || sum <= count {
		t.Errorf("%v entries in %v batches: no batch held more than one call", sum, count)
	}
}
