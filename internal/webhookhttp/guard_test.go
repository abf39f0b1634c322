package webhookhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

func TestGuardRefusesPrivateTargets(t *testing.T) {
	g := webhookhttp.NewGuard(nil)
	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://localhost:8080/hook", "http://[::1]/hook", "http://10.0.0.5/hook",
		"http://172.16.3.4/hook", "http://192.168.1.1/hook", "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/hook",
		"http://100.64.0.1/hook", "http://0.0.0.0/hook", "http://[::ffff:127.0.0.1]/hook", "http://[fd00::1]/hook",
		"ftp://example.com/x", "/relative", "http://user:pw@example.com/", "http:///nohost",
	} {
		if err := g.CheckURL(ctx, u); err == nil || !strings.Contains(err.Error(), "url") {
			t.Errorf("CheckURL(%q) = %v, want a refusal naming url", u, err)
		}
	}
	for _, u := range []string{"https://93.184.215.14/hook", "http://[2606:4700::1111]/x"} {
		if err := g.CheckURL(ctx, u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want admitted", u, err)
		}
	}
	allow, err := webhookhttp.ParseAllowList("127.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	g = webhookhttp.NewGuard(allow)
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://[::1]/hook"} {
		if err := g.CheckURL(ctx, u); err != nil {
			t.Errorf("with loopback allowed, CheckURL(%q) = %v", u, err)
		}
	}
	if err := g.CheckURL(ctx, "http://10.0.0.1/"); err == nil {
		t.Error("the allow-list admitted more than it lists")
	}
	if _, err := webhookhttp.ParseAllowList("10.0.0.0/99"); err == nil {
		t.Error("a bad prefix was accepted")
	}
}

func TestSenderRefusesToDialWhatTheGuardRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	r := webhookhttp.NewSender(webhookhttp.NewGuard(nil), time.Second).Send(context.Background(),
		webhookhttp.Delivery{URL: srv.URL, ID: "e", Time: time.Now(), Body: []byte("{}"), Secrets: [][]byte{webhooksig.NewSecret()}})
	if r.OK() || r.StatusCode != 0 {
		t.Fatalf("a delivery to loopback went through: %+v", r)
	}
}

func TestSenderFollowsNoRedirectAndTimesOut(t *testing.T) {
	var hits int
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits++ }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	loopback := webhookhttp.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	s := webhookhttp.NewSender(loopback, 200*time.Millisecond)
	d := webhookhttp.Delivery{ID: "e", Time: time.Now(), Body: []byte("{}"), Secrets: [][]byte{webhooksig.NewSecret()}}
	d.URL = redirect.URL
	if r := s.Send(context.Background(), d); r.OK() || r.StatusCode != http.StatusTemporaryRedirect || hits != 0 {
		t.Errorf("redirect: %+v, target hit %d times", r, hits)
	}
	d.URL = slow.URL
	if r := s.Send(context.Background(), d); r.OK() || r.StatusCode != 0 || r.Latency > time.Second {
		t.Errorf("slow receiver: %+v", r)
	}
}
