// Package webhookhttp sends webhook deliveries over HTTP: signed (internal/
// webhooksig), with a time limit, never following a redirect, and only to
// addresses the SSRF guard admits, checked when an endpoint is registered and
// again on every connection (a name may resolve elsewhere later).
package webhookhttp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// Guard decides which addresses deliveries may go to: none in loopback,
// link-local, private, shared (CGNAT), unspecified or multicast ranges, unless the
// allow-list admits them.
type Guard struct {
	allow []netip.Prefix
}

// NewGuard is the guard with an allow-list (nil: public addresses only).
func NewGuard(allow []netip.Prefix) *Guard { return &Guard{allow: allow} }

// ParseAllowList reads a comma-separated list of CIDR prefixes or addresses
// ("127.0.0.0/8,10.1.2.3").
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("webhook allow-list: %q is no address or prefix", part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("webhook allow-list: %q is no address or prefix", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// shared is 100.64.0.0/10, carrier-grade NAT: not public, not "private" to Go.
var shared = netip.MustParsePrefix("100.64.0.0/10")

// Admits tells whether a delivery may connect to ip.
func (g *Guard) Admits(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() && !ip.IsUnspecified() && !shared.Contains(ip)
}

// refused is the answer to an endpoint URL the guard does not admit.
func refused(description string) error {
	return &problem.Error{Kind: problem.Invalid, Reason: "WEBHOOK_URL_REFUSED", Message: "invalid url",
		Fields: []problem.FieldViolation{{Field: "url", Description: description}}}
}

// lookupTimeout bounds the name lookup of CheckURL.
const lookupTimeout = 3 * time.Second

// CheckURL refuses an endpoint URL that is not http(s), or whose host resolves to
// any address the guard does not admit.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return refused("must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return refused("must not carry a user name or password")
	}
	if len(raw) > 2000 {
		return refused("must be at most 2000 characters")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		if addrs, err = net.DefaultResolver.LookupNetIP(lctx, "ip", host); err != nil || len(addrs) == 0 {
			return refused(fmt.Sprintf("host %s does not resolve", host))
		}
	}
	for _, a := range addrs {
		if !g.Admits(a) {
			return refused(fmt.Sprintf("host %s resolves to %s, a loopback, link-local or private address the server's allow-list does not admit", host, a.Unmap()))
		}
	}
	return nil
}
