package server_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

func TestEnrollAndGetMemberOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)

	first := env.REST("POST", "/v1/members", app, map[string]any{"memberId": "m-1", "displayName": "Ann"})
	if first.Status != http.StatusOK || first.Body["created"] != true {
		t.Fatalf("enroll: %d %s", first.Status, first.Raw)
	}
	again := env.REST("POST", "/v1/members", app, map[string]any{"memberId": "m-1", "displayName": "Other name"})
	if again.Status != http.StatusOK || again.Body["created"] != false {
		t.Fatalf("enroll again: %d %s", again.Status, again.Raw)
	}
	member := again.Body["member"].(map[string]any)
	if member["displayName"] != "Ann" || member["tierId"] != "member" {
		t.Errorf("enrolling again must return the existing member unchanged, got %v", member)
	}
	if member["joinTime"] != first.Body["member"].(map[string]any)["joinTime"] {
		t.Errorf("join time changed on re-enroll")
	}

	got := env.REST("GET", "/v1/members/m-1", app, nil)
	if got.Status != http.StatusOK || got.Body["member"].(map[string]any)["memberId"] != "m-1" {
		t.Fatalf("get: %d %s", got.Status, got.Raw)
	}
	if got.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the answer")
	}

	missing := env.REST("GET", "/v1/members/nobody", app, nil)
	if missing.Status != http.StatusNotFound || missing.Reason() != "MEMBER_NOT_FOUND" {
		t.Errorf("unknown member: %d %s", missing.Status, missing.Raw)
	}
}

func TestEnrollValidationNamesTheFieldAndChangesNothing(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing id", map[string]any{"displayName": "x"}, "memberId"},
		{"id with space", map[string]any{"memberId": "a b"}, "memberId"},
		{"id too long", map[string]any{"memberId": strings.Repeat("a", 65)}, "memberId"},
		{"name too long", map[string]any{"memberId": "ok", "displayName": strings.Repeat("n", 201)}, "displayName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countRows(t, env)
			resp := env.REST("POST", "/v1/members", app, tc.body)
			if resp.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.Status, resp.Raw)
			}
			if !slices.Contains(resp.FieldViolations(), tc.field) {
				t.Errorf("field violations %v do not name %s", resp.FieldViolations(), tc.field)
			}
			if after := countRows(t, env); !sameCounts(before, after) {
				t.Errorf("a refused request changed the database")
			}
		})
	}

	// gRPC carries the same BadRequest detail.
	_, err := loyaltyv1.NewMemberServiceClient(env.Conn).EnrollMember(env.Ctx(app), &loyaltyv1.EnrollMemberRequest{MemberId: "bad/id"})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("gRPC code %v, want InvalidArgument", st.Code())
	}
	var named bool
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				named = named || fv.GetField() == "memberId"
			}
		}
	}
	if !named {
		t.Errorf("gRPC error does not name memberId: %v", st.Details())
	}

	unknownField := env.REST("POST", "/v1/members", app, `{"memberID":"typo"}`)
	if unknownField.Status != http.StatusBadRequest {
		t.Errorf("unknown JSON field: status %d, want 400", unknownField.Status)
	}
	tooBig := env.REST("POST", "/v1/members", app, `{"memberId":"big","displayName":"`+strings.Repeat("x", 2<<20)+`"}`)
	if tooBig.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", tooBig.Status)
	}
}

func TestRacingEnrollsCreateOneMember(t *testing.T) {
	env := apitest.Start(t)
	client := loyaltyv1.NewMemberServiceClient(env.Conn)
	ctx := env.Ctx(env.Key(access.RoleApp))
	const racers = 24
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		joins   = map[string]bool{}
	)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.EnrollMember(ctx, &loyaltyv1.EnrollMemberRequest{MemberId: "racer"})
			if err != nil {
				t.Errorf("enroll: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if resp.GetCreated() {
				created++
			}
			joins[resp.GetMember().GetJoinTime().AsTime().String()] = true
		}()
	}
	wg.Wait()
	if created != 1 || len(joins) != 1 {
		t.Fatalf("created %d times with %d distinct join times; want exactly one member", created, len(joins))
	}
	var n int
	if err := env.Pool.QueryRow(t.Context(), "SELECT count(*) FROM members WHERE member_id = 'racer'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("members rows %d (%v), want 1", n, err)
	}
}
