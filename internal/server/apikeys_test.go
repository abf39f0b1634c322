package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

func TestKeyLifecycleAndRevocationOnBothTransports(t *testing.T) {
	env := apitest.Start(t)
	created := env.REST("POST", "/v1/apiKeys", apitest.AdminKey, map[string]any{"name": "shop app", "role": "app"})
	if created.Status != http.StatusOK {
		t.Fatalf("create key: %d %s", created.Status, created.Raw)
	}
	secret, _ := created.Body["secret"].(string)
	keyID, _ := created.Body["keyId"].(string)
	if secret == "" || keyID == "" {
		t.Fatalf("create key answer lacks secret or id: %s", created.Raw)
	}

	// The secret is not stored anywhere in plain text.
	var leaks int
	if err := env.Pool.QueryRow(t.Context(),
		`SELECT count(*) FROM api_keys WHERE key_id = $1 OR name = $1 OR position(convert_to($1, 'UTF8') in secret_hash) > 0`, secret).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Fatal("the secret is stored in plain text")
	}
	list := env.REST("GET", "/v1/apiKeys", apitest.AdminKey, nil)
	if bytes.Contains(list.Raw, []byte(secret)) {
		t.Fatal("listing keys shows a secret")
	}

	members := loyaltyv1.NewMemberServiceClient(env.Conn)
	if r := env.REST("POST", "/v1/members", secret, map[string]any{"memberId": "k1"}); r.Status != http.StatusOK {
		t.Fatalf("new key refused: %d %s", r.Status, r.Raw)
	}
	if _, err := members.GetMember(env.Ctx(secret), &loyaltyv1.GetMemberRequest{MemberId: "k1"}); err != nil {
		t.Fatalf("new key refused on gRPC: %v", err)
	}

	revoked := env.REST("DELETE", "/v1/apiKeys/"+keyID, apitest.AdminKey, nil)
	if revoked.Status != http.StatusOK || revoked.Body["key"].(map[string]any)["revokeTime"] == nil {
		t.Fatalf("revoke: %d %s", revoked.Status, revoked.Raw)
	}
	if r := env.REST("GET", "/v1/members/k1", secret, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("revoked key on REST: %d, want 401", r.Status)
	}
	if _, err := members.GetMember(env.Ctx(secret), &loyaltyv1.GetMemberRequest{MemberId: "k1"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked key on gRPC: %v, want Unauthenticated", err)
	}
	if r := env.REST("DELETE", "/v1/apiKeys/key_nope", apitest.AdminKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("revoking an unknown key: %d, want 404", r.Status)
	}
	if r := env.REST("POST", "/v1/apiKeys", apitest.AdminKey, map[string]any{"name": "x", "role": "superuser"}); r.Status != http.StatusBadRequest {
		t.Errorf("unknown role: %d, want 400", r.Status)
	}
}

func TestBootstrapAdminKeyIsRestoredAtStart(t *testing.T) {
	env := apitest.Start(t)
	keys := env.REST("GET", "/v1/apiKeys", apitest.AdminKey, nil)
	list, _ := keys.Body["keys"].([]any)
	if len(list) != 1 {
		t.Fatalf("want the bootstrap key alone, got %s", keys.Raw)
	}
	id := list[0].(map[string]any)["keyId"].(string)
	if r := env.REST("DELETE", "/v1/apiKeys/"+id, apitest.AdminKey, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke bootstrap key: %d", r.Status)
	}
	if r := env.REST("GET", "/v1/apiKeys", apitest.AdminKey, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked bootstrap key still works: %d", r.Status)
	}
	// A restart with LOYALTY_ADMIN_KEY guarantees the key again.
	if _, err := env.App.Keys.EnsureAdmin(t.Context(), apitest.AdminKey); err != nil {
		t.Fatal(err)
	}
	if r := env.REST("GET", "/v1/apiKeys", apitest.AdminKey, nil); r.Status != http.StatusOK {
		t.Fatalf("bootstrap key not restored: %d", r.Status)
	}
}

// Create and list answer a key's public prefix, and the list its last use.
func TestKeysShowPublicPrefixAndLastUse(t *testing.T) {
	env := apitest.Start(t)
	created := must200(t, "create key", env.REST("POST", "/v1/apiKeys", apitest.AdminKey, map[string]any{"name": "till", "role": "app"})).Body
	secret := created["secret"].(string)
	key := created["key"].(map[string]any)
	if key["publicPrefix"] != secret[:9] {
		t.Fatalf("publicPrefix %v of secret %s", key["publicPrefix"], secret)
	}
	if key["lastUseTime"] != nil {
		t.Errorf("a new key was used at %v", key["lastUseTime"])
	}
	must200(t, "use the key", env.REST("GET", "/v1/program", secret, nil))
	list := must200(t, "list keys", env.REST("GET", "/v1/apiKeys", apitest.AdminKey, nil)).Body["keys"].([]any)
	for _, k := range list {
		k := k.(map[string]any)
		if k["keyId"] != created["keyId"] {
			continue
		}
		if k["publicPrefix"] != secret[:9] {
			t.Errorf("listed publicPrefix %v", k["publicPrefix"])
		}
		used, err := time.Parse(time.RFC3339Nano, fmt.Sprint(k["lastUseTime"]))
		if err != nil || time.Since(used) > time.Minute || time.Until(used) > time.Minute {
			t.Errorf("lastUseTime %v after a use just now", k["lastUseTime"])
		}
		return
	}
	t.Fatal("the key is not listed")
}
