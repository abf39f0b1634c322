package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// hostile is one bad request and the refusal it must get.
type hostile struct {
	name    string
	method  string
	path    string
	key     string // "admin", "app", "agent", "auditor", "marketer", "none", "wrong", "basic"
	body    any
	status  int
	reason  string
	field   string // a field the BadRequest must name, if any
	headers []string
}

func hostileRequests() []hostile {
	const earn = "/v1/members/alice:earn"
	bad := `{"memberId":`
	return []hostile{
		// Authentication and the role come before the body.
		{"no key, malformed body", "POST", "/v1/members", "none", bad, 401, "UNAUTHENTICATED", "", nil},
		{"wrong key, malformed body", "POST", "/v1/members", "wrong", bad, 401, "UNAUTHENTICATED", "", nil},
		{"basic scheme, malformed body", "POST", "/v1/members", "basic", bad, 401, "UNAUTHENTICATED", "", nil},
		{"off-role key, malformed body", "POST", earn, "auditor", bad, 403, "PERMISSION_DENIED", "", nil},
		{"off-role key, unknown query", "GET", "/v1/apiKeys?x=1", "app", nil, 403, "PERMISSION_DENIED", "", nil},
		// Bodies.
		{"malformed JSON", "POST", "/v1/members", "app", bad, 400, "MALFORMED_BODY", "", nil},
		{"not JSON at all", "POST", earn, "app", "points=5", 400, "MALFORMED_BODY", "", nil},
		{"an array, not an object", "POST", earn, "app", `[1,2]`, 400, "MALFORMED_BODY", "", nil},
		{"data after the object", "POST", earn, "app", `{"requestId":"h-trailing","points":1}{"points":2}`, 400, "MALFORMED_BODY", "", nil},
		{"unknown field", "POST", earn, "app", `{"requestId":"h-unknown","points":1,"pointz":2}`, 400, "UNKNOWN_FIELD", "pointz", nil},
		{"wrong type", "POST", earn, "app", `{"requestId":"h-type","points":"many"}`, 400, "INVALID_FIELD_VALUE", "points", nil},
		{"fraction for an integer", "POST", earn, "app", `{"requestId":"h-frac","points":1.5}`, 400, "INVALID_FIELD_VALUE", "points", nil},
		{"nested wrong type", "POST", earn, "app", `{"requestId":"h-nested","orderId":"h1","spend":{"amountMinor":"lots","currency":"CNY"}}`,
			400, "INVALID_FIELD_VALUE", "spend.amountMinor", nil},
		{"nested unknown field", "POST", earn, "app", `{"requestId":"h-nested2","orderId":"h2","spend":{"amount":1}}`,
			400, "UNKNOWN_FIELD", "spend.amount", nil},
		{"field given twice", "POST", earn, "app", `{"requestId":"h-twice","points":1,"points":2}`, 400, "INVALID_FIELD_VALUE", "points", nil},
		{"bad duration", "POST", "/v1/members/alice/holds", "app", `{"requestId":"h-ttl","points":1,"ttl":"15 minutes"}`,
			400, "INVALID_FIELD_VALUE", "ttl", nil},
		{"body mapped to one field", "PUT", "/v1/program", "admin", `{"earnPoints":"two"}`, 400, "INVALID_FIELD_VALUE", "earnPoints", nil},
		{"invalid UTF-8", "POST", "/v1/members", "app", []byte("{\"memberId\":\"zed\",\"displayName\":\"Z\xffd\"}"),
			400, "INVALID_FIELD_VALUE", "displayName", nil},
		{"lone surrogate", "POST", "/v1/members", "app", `{"memberId":"zed","displayName":"a\ud800b"}`, 400, "INVALID_FIELD_VALUE", "displayName", nil},
		{"integer out of range", "POST", earn, "app", `{"requestId":"h-big","points":"9223372036854775808"}`, 400, "INVALID_FIELD_VALUE", "points", nil},
		{"time without a zone", "POST", "/v1/members/alice/memberships", "app", `{"requestId":"h-m","tierId":"gold","endTime":"2027-01-01T00:00:00"}`,
			400, "INVALID_FIELD_VALUE", "endTime", nil},
		// NUL and control characters in free text, on every kind of command.
		{"NUL in displayName", "POST", "/v1/members", "app", `{"memberId":"zed","displayName":"Ze\u0000d"}`, 400, "INVALID_ARGUMENT", "displayName", nil},
		{"escape in displayName", "POST", "/v1/members", "app", `{"memberId":"zed","displayName":"\u001b[31mred"}`, 400, "INVALID_ARGUMENT", "displayName", nil},
		{"NUL in requestId", "POST", earn, "app", `{"requestId":"r\u0000","points":1}`, 400, "INVALID_ARGUMENT", "requestId", nil},
		{"NUL in a reversal reason", "POST", "/v1/entries/1:reverse", "admin", `{"requestId":"h-rev","reason":"oops\u0000"}`,
			400, "INVALID_ARGUMENT", "reason", nil},
		{"NUL in an API key name", "POST", "/v1/apiKeys", "admin", `{"name":"bad\u0000key","role":"app"}`, 400, "INVALID_ARGUMENT", "name", nil},
		{"NUL in a goodwill ticket", "POST", "/v1/members/alice:grantGoodwill", "agent",
			`{"requestId":"h-gw","points":10,"reasonCode":"LATE_DELIVERY","ticketId":"ZD\u00001","note":"a\u0000"}`, 400, "INVALID_ARGUMENT", "ticketId", nil},
		{"NUL in a campaign rule", "POST", "/v1/campaigns", "marketer",
			`{"displayName":"Bad\u0000","type":"POINTS_MULTIPLIER","multiplierPercent":200,"eligibility":{"rule":"order.spendMinor >= 1 || 'a\u0000' == 'b'"}}`,
			400, "INVALID_ARGUMENT", "eligibility.rule", nil},
		{"NUL in a path id", "GET", "/v1/members/%00", "app", nil, 400, "INVALID_ARGUMENT", "memberId", nil},
		// Query parameters and path variables.
		{"bad time", "GET", "/v1/members/alice/balance?asOfTime=yesterday", "app", nil, 400, "INVALID_FIELD_VALUE", "asOfTime", nil},
		{"misspelt parameter", "GET", "/v1/members/alice/balance?asoftime=2026-11-11T00:00:00Z", "app", nil, 400, "UNKNOWN_QUERY_PARAMETER", "asoftime", nil},
		{"parameter the path sets", "GET", "/v1/members/alice/balance?memberId=bob", "app", nil, 400, "UNKNOWN_QUERY_PARAMETER", "memberId", nil},
		{"not a number", "GET", "/v1/members/alice/activity?pageSize=ten", "app", nil, 400, "INVALID_FIELD_VALUE", "pageSize", nil},
		{"parameter given twice", "GET", "/v1/members/alice/activity?pageSize=1&pageSize=2", "app", nil, 400, "INVALID_FIELD_VALUE", "pageSize", nil},
		{"bad status filter", "GET", "/v1/approvals?status=MAYBE", "admin", nil, 400, "INVALID_ARGUMENT", "status", nil},
		{"bad boolean", "GET", "/v1/members/alice/lots?includeSpent=maybe", "app", nil, 400, "INVALID_FIELD_VALUE", "includeSpent", nil},
		{"query on a call with a body", "POST", earn + "?points=5", "app", `{"requestId":"h-q","points":1}`, 400, "UNKNOWN_QUERY_PARAMETER", "points", nil},
		{"malformed query", "GET", "/v1/members/alice/balance?asOfTime=%zz", "app", nil, 400, "MALFORMED_QUERY", "", nil},
		{"path id not an id", "GET", "/v1/holds/abc", "app", nil, 400, "INVALID_ARGUMENT", "holdId", nil},
		// Ids and paths.
		{"dot-dot member", "GET", "/v1/members/../balance", "app", nil, 400, "INVALID_ARGUMENT", "memberId", nil},
		{"dot member", "GET", "/v1/members/.", "app", nil, 400, "INVALID_ARGUMENT", "memberId", nil},
		{"member id with a colon", "GET", "/v1/members/alice:b/balance", "app", nil, 400, "INVALID_ARGUMENT", "memberId", nil},
		{"a verb's path with GET", "GET", "/v1/members/alice:earn", "app", nil, 405, "METHOD_NOT_ALLOWED", "", nil},
		{"enroll with a colon", "POST", "/v1/members", "app", `{"memberId":"a:b"}`, 400, "INVALID_ARGUMENT", "memberId", nil},
		{"enroll dots only", "POST", "/v1/members", "app", `{"memberId":".."}`, 400, "INVALID_ARGUMENT", "memberId", nil},
		{"unknown path", "GET", "/v1/nothing", "app", nil, 404, "NOT_FOUND", "", nil},
		{"unknown verb", "POST", "/v1/members/alice:explode", "app", `{}`, 404, "NOT_FOUND", "", nil},
		{"wrong method", "DELETE", "/v1/members/alice", "app", nil, 405, "METHOD_NOT_ALLOWED", "", nil},
		{"wrong method on a collection", "PATCH", "/v1/members", "none", `{}`, 405, "METHOD_NOT_ALLOWED", "", nil},
		{"declared body over the limit", "POST", "/v1/members", "app", `{"memberId":"big","displayName":"` + strings.Repeat("x", 2<<20) + `"}`,
			413, "BODY_TOO_LARGE", "", nil},
	}
}

func TestHostileRESTRequestsAreClearRefusalsAndChangeNothing(t *testing.T) {
	env := apitest.Start(t)
	env.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	keys := map[string]string{"admin": apitest.AdminKey, "wrong": "lk_not_a_key", "none": ""}
	for _, r := range []access.Role{access.RoleApp, access.RoleAgent, access.RoleAuditor, access.RoleMarketer} {
		keys[string(r)] = env.Key(r)
	}
	app := keys["app"]
	enroll(t, env, app, "alice")
	must200(t, "earn", env.REST("POST", "/v1/members/alice:earn", app, map[string]any{"requestId": "h-seed", "points": 500}))
	balanceBefore := must200(t, "balance", env.REST("GET", "/v1/members/alice/balance", app, nil)).Raw
	before := countRows(t, env)

	for _, tc := range hostileRequests() {
		key := keys[tc.key]
		headers := tc.headers
		if tc.key == "basic" {
			key = ""
			headers = append(headers, "Authorization", "Basic "+apitest.AdminKey)
		}
		r := env.REST(tc.method, tc.path, key, tc.body, headers...)
		checkRefusal(t, tc.name, r, tc.status, tc.reason, tc.field)
		if r.Header.Get("Location") != "" {
			t.Errorf("%s: redirected to %s", tc.name, r.Header.Get("Location"))
		}
		if tc.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without an Allow header", tc.name)
		}
	}

	if after := countRows(t, env); !sameCounts(before, after) {
		t.Errorf("hostile requests changed the database: before %v, after %v", before, after)
	}
	if after := must200(t, "balance", env.REST("GET", "/v1/members/alice/balance", app, nil)).Raw; !bytes.Equal(after, balanceBefore) {
		t.Errorf("balance changed: %s, then %s", balanceBefore, after)
	}
	verify := must200(t, "verify", env.REST("GET", "/v1/ledger:verify", apitest.AdminKey, nil))
	if ok, _ := verify.Body["ok"].(bool); !ok {
		t.Errorf("ledger:verify after hostile requests: %s", verify.Raw)
	}
}

// checkRefusal checks a REST error completely: status, ErrorInfo (reason and
// domain), the field named, and a message that reads as a sentence.
func checkRefusal(t *testing.T, name string, r apitest.Response, wantStatus int, reason, field string) {
	t.Helper()
	if r.Status != wantStatus || r.Reason() != reason {
		t.Errorf("%s: got %d %q, want %d %s: %s", name, r.Status, r.Reason(), wantStatus, reason, r.Raw)
		return
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id", name)
	}
	domain := ""
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		if m, _ := d.(map[string]any); m["reason"] != nil {
			domain, _ = m["domain"].(string)
		}
	}
	if domain != "loyalty.v1" {
		t.Errorf("%s: ErrorInfo domain %q: %s", name, domain, r.Raw)
	}
	if field != "" && !slices.Contains(r.FieldViolations(), field) {
		t.Errorf("%s: fields %v, want %s: %s", name, r.FieldViolations(), field, r.Raw)
	}
	msg, _ := r.Body["message"].(string)
	checkSentence(t, name, msg)
}

func checkSentence(t *testing.T, name, msg string) {
	t.Helper()
	first, _ := utf8.DecodeRuneInString(msg)
	word, _, _ := strings.Cut(msg, " ")
	if !unicode.IsUpper(first) && strings.IndexFunc(word, unicode.IsUpper) < 0 {
		t.Errorf("%s: message %q does not start with a capital letter or a field name", name, msg)
	}
	for _, leak := range []string{"rpc error", "proto:", "2006-01-02", "strconv.", "parsing field", "type mismatch"} {
		if strings.Contains(msg, leak) {
			t.Errorf("%s: message %q shows Go internals (%s)", name, msg, leak)
		}
	}
	if !strings.HasSuffix(msg, ".") {
		t.Errorf("%s: message %q does not end as a sentence", name, msg)
	}
}

func TestChunkedBodyOverTheLimitIs413(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	// A reader of unknown length makes the client send the body chunked, with no
	// Content-Length for the server to check up front.
	body := io.MultiReader(strings.NewReader(`{"memberId":"big","displayName":"`), strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}`))
	req, err := http.NewRequest("POST", env.BaseURL+"/v1/members", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+app)
	if req.ContentLength != 0 {
		t.Fatalf("content length %d: the body would not be sent chunked", req.ContentLength)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apitest.Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, raw, err)
	}
	checkRefusal(t, "chunked body over the limit", r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "")
	var n int
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM members`).Scan(&n); err != nil || n != 0 {
		t.Errorf("members %d (%v), want none", n, err)
	}
}

func TestMethodNotAllowedNamesTheAllowedMethods(t *testing.T) {
	env := apitest.Start(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/v1/members/alice", "GET, PATCH"},
		{"GET", "/v1/members/alice:earn", "POST"},
		{"PUT", "/v1/members/alice/memberships", "GET, POST"},
		{"POST", "/v1/program", "GET, PUT"},
		{"POST", "/healthz", "GET, HEAD"},
	} {
		r := env.REST(tc.method, tc.path, apitest.AdminKey, nil)
		if tc.allow == "" {
			if r.Status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: 405", tc.method, tc.path)
			}
			continue
		}
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q: %s", tc.method, tc.path, r.Status, r.Header.Get("Allow"), tc.allow, r.Raw)
		}
	}
}

func TestRESTAuthenticatesEveryRouteBeforeReadingItsBody(t *testing.T) {
	env := apitest.Start(t)
	auditor := env.Key(access.RoleAuditor)
	for name, route := range restRoutes(t) {
		path := strings.NewReplacer("{", "", "}", "").Replace(route.path)
		r := env.REST(route.method, path, "", `{"broken`)
		if r.Status != http.StatusUnauthorized || r.Reason() != "UNAUTHENTICATED" || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a key: %d %q %s", name, r.Status, r.Reason(), r.Raw)
		}
		if server := methodAllowsAuditor(name); !server {
			r := env.REST(route.method, path, auditor, `{"broken`)
			if r.Status != http.StatusForbidden || r.Reason() != "PERMISSION_DENIED" {
				t.Errorf("%s as auditor: %d %q %s", name, r.Status, r.Reason(), r.Raw)
			}
		}
	}
}

func methodAllowsAuditor(fullMethod string) bool {
	return slices.Contains(roleMatrix[fullMethod].allowed, access.RoleAuditor)
}

func TestRequestIDIsAnsweredOnRefusalsToo(t *testing.T) {
	env := apitest.Start(t)
	r := env.REST("GET", "/v1/members/alice", "", nil, "X-Request-Id", "my-trace-1")
	if r.Status != http.StatusUnauthorized || r.Header.Get("X-Request-Id") != "my-trace-1" {
		t.Errorf("refusal: %d, X-Request-Id %q", r.Status, r.Header.Values("X-Request-Id"))
	}
	ok := env.REST("GET", "/v1/program", apitest.AdminKey, nil, "X-Request-Id", "my-trace-2")
	if got := ok.Header.Values("X-Request-Id"); ok.Status != http.StatusOK || len(got) != 1 || got[0] != "my-trace-2" {
		t.Errorf("answer: %d, X-Request-Id %q", ok.Status, got)
	}
	bad := env.REST("GET", "/v1/program", apitest.AdminKey, nil, "X-Request-Id", "tracé")
	if id := bad.Header.Get("X-Request-Id"); bad.Status != http.StatusOK || id == "" || id == "tracé" {
		t.Errorf("unprintable id: %d, X-Request-Id %q", bad.Status, id)
	}
}

func TestGRPCRefusesNULAndControlCharactersNamingTheField(t *testing.T) {
	env := apitest.Start(t)
	ctx := env.Ctx(env.Key(access.RoleApp))
	members := loyaltyv1.NewMemberServiceClient(env.Conn)
	for _, tc := range []struct {
		req   *loyaltyv1.EnrollMemberRequest
		field string
	}{
		{&loyaltyv1.EnrollMemberRequest{MemberId: "zed", DisplayName: "Ze\x00d"}, "displayName"},
		{&loyaltyv1.EnrollMemberRequest{MemberId: "zed", DisplayName: "bell\x07"}, "displayName"},
		{&loyaltyv1.EnrollMemberRequest{MemberId: "ze\x00d"}, "memberId"},
	} {
		_, err := members.EnrollMember(ctx, tc.req)
		checkGRPCField(t, tc.field, err)
	}
	// Reads take ids too.
	_, err := members.GetMember(ctx, &loyaltyv1.GetMemberRequest{MemberId: "a\x00"})
	checkGRPCField(t, "memberId", err)
	if _, err := members.EnrollMember(ctx, &loyaltyv1.EnrollMemberRequest{MemberId: "zed", DisplayName: "Zed\tthe\nsecond"}); err != nil {
		t.Errorf("tab and newline refused: %v", err)
	}
}

// rawCodec sends bytes exactly as given: the Go client would refuse to encode
// invalid UTF-8 itself.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

func TestGRPCInvalidUTF8IsInvalidArgumentNotInternal(t *testing.T) {
	env := apitest.Start(t)
	ctx := env.Ctx(env.Key(access.RoleApp))
	req := protowire.AppendTag(nil, 1, protowire.BytesType)
	req = protowire.AppendString(req, "zed")
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendBytes(req, []byte("Z\xff\xfed"))
	var resp []byte
	err := env.Conn.Invoke(ctx, loyaltyv1.MemberService_EnrollMember_FullMethodName, req, &resp, grpc.ForceCodecV2(rawCodec{}))
	checkGRPCField(t, "displayName", err)
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM members`).Scan(&n); err != nil || n != 0 {
		t.Errorf("members %d (%v), want none", n, err)
	}
}

func checkGRPCField(t *testing.T, field string, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Errorf("code %v (%s), want InvalidArgument", st.Code(), st.Message())
		return
	}
	named, reason := false, ""
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				named = named || fv.GetField() == field
			}
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		}
	}
	if !named || reason == "" {
		t.Errorf("error %q names no %s (reason %q): %v", st.Message(), field, reason, st.Details())
	}
	checkSentence(t, "gRPC "+field, st.Message())
}

func TestGRPCAuthRefusalsCarryErrorInfo(t *testing.T) {
	env := apitest.Start(t)
	points := loyaltyv1.NewPointsServiceClient(env.Conn)
	for _, tc := range []struct {
		key    string
		code   codes.Code
		reason string
	}{
		{"", codes.Unauthenticated, "UNAUTHENTICATED"},
		{"lk_not_a_key", codes.Unauthenticated, "UNAUTHENTICATED"},
		{env.Key(access.RoleApp), codes.PermissionDenied, "PERMISSION_DENIED"},
	} {
		_, err := points.ReverseEntry(env.Ctx(tc.key), &loyaltyv1.ReverseEntryRequest{EntryId: "1", RequestId: "r-1", Reason: "x"})
		st := status.Convert(err)
		reason := ""
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
			}
		}
		if st.Code() != tc.code || reason != tc.reason {
			t.Errorf("key %q: %v %q, want %v %s", tc.key, st.Code(), reason, tc.code, tc.reason)
		}
		checkSentence(t, tc.reason, st.Message())
	}
}
