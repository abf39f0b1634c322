package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/ledger"
)

// badPageToken checks a REST answer is the refusal of a page token.
func badPageToken(t testing.TB, what string, r apitest.Response) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.Reason() != "INVALID_PAGE_TOKEN" || !slices.Equal(r.FieldViolations(), []string{"pageToken"}) {
		t.Errorf("%s: %d %q %v, want 400 INVALID_PAGE_TOKEN naming pageToken: %s", what, r.Status, r.Reason(), r.FieldViolations(), r.Raw)
	}
}

// pagedList is one paginated list: its first page of one item (query ends in
// pageSize=1), the items' JSON field and id, and queries of the same list with
// other filters, or of other lists, where its token must be refused.
type pagedList struct {
	name, first, items, id string
	others                 []string
}

// checkPages walks the list one item a page, then tries its second page's token
// altered, with another page size (fine), and with the other queries (refused).
func checkPages(t *testing.T, env *apitest.Env, key string, l pagedList, want int) {
	t.Helper()
	before := dbState(t, env)
	var ids []string
	token, tokens := "", []string{}
	for len(ids) <= want {
		path := l.first
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		r := must200(t, l.name+" page", env.REST("GET", path, key, nil))
		for _, item := range list(t, r.Body[l.items]) {
			ids = append(ids, item[l.id].(string))
		}
		if token, _ = r.Body["nextPageToken"].(string); token == "" {
			break
		}
		tokens = append(tokens, token)
	}
	if len(ids) != want || len(slices.Compact(slices.Clone(ids))) != want {
		t.Fatalf("%s: pages of one walked %v, want %d distinct items", l.name, ids, want)
	}
	tok := tokens[0]
	// The page size is not part of the query: a client may change it between pages.
	bigger := strings.Replace(l.first, "pageSize=1", "pageSize=50", 1) + "&pageToken=" + url.QueryEscape(tok)
	if r := must200(t, l.name+" with another page size", env.REST("GET", bigger, key, nil)); len(list(t, r.Body[l.items])) != want-1 {
		t.Errorf("%s: the rest after the first item in one page: %s", l.name, r.Raw)
	}
	for i := range tok {
		flipped := []byte(tok)
		flipped[i] ^= 1
		if i%3 == 0 || i == len(tok)-1 {
			badPageToken(t, l.name+" token with a character altered", env.REST("GET", l.first+"&pageToken="+url.QueryEscape(string(flipped)), key, nil))
		}
	}
	for _, bad := range []string{"garbage", "!!not base64!!", tok[:len(tok)-2], tok + "AA", "MTA"} {
		badPageToken(t, l.name+" token "+bad, env.REST("GET", l.first+"&pageToken="+url.QueryEscape(bad), key, nil))
	}
	for _, other := range l.others {
		sep := "?"
		if strings.Contains(other, "?") {
			sep = "&"
		}
		badPageToken(t, l.name+" token used with "+other, env.REST("GET", other+sep+"pageToken="+url.QueryEscape(tok), key, nil))
	}
	if after := dbState(t, env); after != before {
		t.Errorf("%s: reading pages changed the database:\n%s\nwant\n%s", l.name, after, before)
	}
}

func TestActivityPageTokensAreBoundToTheMemberAndFilters(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	key := env.Key(access.RoleApp)
	for _, m := range []string{"pat", "quinn"} {
		enroll(t, env, key, m)
		earn(t, env, key, m, "e-1", 10)
		earn(t, env, key, m, "e-2", 20)
		redeem(t, env, key, m, "r-1", 5)
	}
	checkPages(t, env, key, pagedList{
		name: "activity", first: "/v1/members/pat/activity?pageSize=1", items: "entries", id: "entryId",
		others: []string{
			"/v1/members/quinn/activity",
			"/v1/members/pat/activity?kinds=EARN",
			"/v1/members/pat/activity?startTime=2020-01-01T00:00:00Z",
			"/v1/members/pat/activity?endTime=2999-01-01T00:00:00Z",
			"/v1/members/pat/tierHistory",
		},
	}, 3)
	// A token keeps its filters: the kinds in another order are the same query.
	r := must200(t, "earns and redeems", env.REST("GET", "/v1/members/pat/activity?pageSize=1&kinds=EARN&kinds=REDEEM", key, nil))
	tok, _ := r.Body["nextPageToken"].(string)
	next := must200(t, "the kinds reordered", env.REST("GET", "/v1/members/pat/activity?pageSize=5&kinds=REDEEM&kinds=EARN&pageToken="+url.QueryEscape(tok), key, nil))
	if n := len(list(t, next.Body["entries"])); n != 2 {
		t.Errorf("after the first of 3 entries, %d more: %s", n, next.Raw)
	}
	badPageToken(t, "one kind fewer", env.REST("GET", "/v1/members/pat/activity?kinds=EARN&pageToken="+url.QueryEscape(tok), key, nil))

	// gRPC answers the same refusal.
	_, err := loyaltyv1.NewPointsServiceClient(env.Conn).ListActivity(env.Ctx(key), &loyaltyv1.ListActivityRequest{MemberId: "quinn", PageToken: tok})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || grpcReason(st) != "INVALID_PAGE_TOKEN" || !slices.Equal(grpcFields(err), []string{"pageToken"}) {
		t.Errorf("gRPC with another member's token: %v, want InvalidArgument INVALID_PAGE_TOKEN naming pageToken", err)
	}
}

func grpcReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

func TestApprovalPageTokensAreBoundToTheStatus(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	agent := env.Key(access.RoleAgent)
	enroll(t, env, apitest.AdminKey, "gwm")
	for _, id := range []string{"a", "b", "c"} {
		r := must200(t, "grant "+id, env.REST("POST", "/v1/members/gwm:grantGoodwill", agent,
			map[string]any{"requestId": id, "points": 900, "reasonCode": "DAMAGED_ITEM", "ticketId": "ZD-" + id}))
		if a, _ := r.Body["approval"].(map[string]any); a == nil || a["status"] != "PENDING" {
			t.Fatalf("grant %s above the per-grant limit did not wait for approval: %s", id, r.Raw)
		}
	}
	checkPages(t, env, apitest.AdminKey, pagedList{
		name: "approvals", first: "/v1/approvals?status=PENDING&pageSize=1", items: "approvals", id: "approvalId",
		others: []string{"/v1/approvals", "/v1/approvals?status=APPROVED", "/v1/campaigns"},
	}, 3)
}

func TestCampaignPageTokensAreBoundToTheStatus(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	for range 3 {
		createCampaign(t, env, marketer, couponDropBody)
	}
	checkPages(t, env, marketer, pagedList{
		name: "campaigns", first: "/v1/campaigns?status=DRAFT&pageSize=1", items: "campaigns", id: "campaignId",
		others: []string{"/v1/campaigns", "/v1/campaigns?status=ACTIVE", "/v1/campaigns?status=PAUSED"},
	}, 3)
}

func TestCouponPageTokensAreBoundToTheMember(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	marketer, app := env.Key(access.RoleMarketer), env.Key(access.RoleApp)
	drop := createCampaign(t, env, marketer, `{"displayName": "Drop", "type": "COUPON_DROP",
		"coupon": {"kind": "AMOUNT_OFF", "amountOffMinor": 1000, "validDays": 30}, "perMemberCap": {"coupons": 3}}`)
	id := drop["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	for _, m := range []string{"rae", "sol"} {
		enroll(t, env, app, m)
		for _, req := range []string{"c-1", "c-2", "c-3"} {
			must200(t, "issue", env.REST("POST", "/v1/members/"+m+"/coupons", app, map[string]any{"requestId": req, "campaignId": id}))
		}
	}
	checkPages(t, env, app, pagedList{
		name: "coupons", first: "/v1/members/rae/coupons?pageSize=1", items: "coupons", id: "code",
		others: []string{"/v1/members/sol/coupons", "/v1/members/rae/activity"},
	}, 3)
}

func TestTierHistoryPageTokensAreBoundToTheMember(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	for _, m := range []string{"tam", "uma"} {
		enroll(t, env, app, m)
		// member -> silver -> gold -> platinum: three changes
		earnOnOrder(t, env, app, m, m+"-1", m+"-1", 120000)
		earnOnOrder(t, env, app, m, m+"-2", m+"-2", 400000)
		earnOnOrder(t, env, app, m, m+"-3", m+"-3", 1600000)
	}
	checkPages(t, env, app, pagedList{
		name: "tierHistory", first: "/v1/members/tam/tierHistory?pageSize=1", items: "changes", id: "changeId",
		others: []string{"/v1/members/uma/tierHistory", "/v1/members/tam/activity"},
	}, 3)
}

// Another replica (a second server on the same database, or this one after a
// restart) takes the tokens this one gave: the key is in the database, not the
// process.
func TestPageTokensWorkOnEveryReplica(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	key := env.Key(access.RoleApp)
	enroll(t, env, key, "val")
	for _, id := range []string{"e-1", "e-2", "e-3"} {
		earn(t, env, key, "val", id, 10)
	}
	r := must200(t, "first page", env.REST("GET", "/v1/members/val/activity?pageSize=1", key, nil))
	tok, _ := r.Body["nextPageToken"].(string)
	other, err := app.New(context.Background(), env.Pool, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := other.Ledger.ListActivity(context.Background(), ledger.ListActivity{MemberID: "val", PageToken: tok})
	if err != nil || len(page.Entries) != 2 {
		t.Fatalf("the other replica read the token as %+v, %v; want the 2 older entries", page, err)
	}
	// And the other way round.
	page, err = other.Ledger.ListActivity(context.Background(), ledger.ListActivity{MemberID: "val", PageSize: 2})
	if err != nil || page.NextPageToken == "" {
		t.Fatalf("first page on the other replica: %+v, %v", page, err)
	}
	rest := must200(t, "the other replica's token", env.REST("GET", "/v1/members/val/activity?pageToken="+url.QueryEscape(page.NextPageToken), key, nil))
	if n := len(list(t, rest.Body["entries"])); n != 1 {
		t.Errorf("after 2 of 3 entries, %d: %s", n, rest.Raw)
	}
}
