package main

import (
	"context"
	"fmt"
	"io"

	"github.com/loyalty-engine/loyalty/ledger"
)

// demoMembers are seeded by -demo. Enrolling is idempotent, so seeding on every
// start changes nothing after the first.
var demoMembers = []ledger.EnrollMember{
	{MemberID: "alice", DisplayName: "Alice Liddell"},
	{MemberID: "bob", DisplayName: "Bob Marley"},
	{MemberID: "chen.wei", DisplayName: "Chen Wei"},
}

func seedDemo(ctx context.Context, l *ledger.Service) error {
	for _, m := range demoMembers {
		if _, _, err := l.Enroll(ctx, m); err != nil {
			return fmt.Errorf("seed demo member %s: %w", m.MemberID, err)
		}
	}
	return nil
}

func printDemo(w io.Writer, httpAddr, grpcAddr, adminKey string) {
	base := "http://" + httpAddr
	fmt.Fprintf(w, `
loyaltyd is running with demo data.
  REST  %[1]s   (OpenAPI: %[1]s/openapi.json)
  gRPC  %[2]s
  admin key: %[3]s

Try:
  export KEY=%[3]s
  curl -s -H "Authorization: Bearer $KEY" %[1]s/v1/members/alice
  curl -s -H "Authorization: Bearer $KEY" -d '{"memberId":"dana","displayName":"Dana"}' %[1]s/v1/members
  curl -s -H "Authorization: Bearer $KEY" -d '{"name":"shop app","role":"app"}' %[1]s/v1/apiKeys

  ./bin/loyaltyctl --key $KEY members get alice

Ctrl-C stops the server and its PostgreSQL; the data stays in .data/.

`, base, grpcAddr, adminKey)
}
