package replica_test

import (
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/replica"
)

func TestRoute(t *testing.T) {
	const maxLag = 5 * time.Second
	healthy := replica.State{Configured: true, Up: true, Lag: time.Second, Replayed: 100}
	with := func(edit func(*replica.State)) replica.State {
		st := healthy
		edit(&st)
		return st
	}
	lagging := replica.Read{Lagging: true}
	for _, c := range []struct {
		name   string
		read   replica.Read
		state  replica.State
		target replica.Target
		reason string
	}{
		{"a write or a current balance", replica.Read{}, healthy, replica.Primary, replica.ReasonNotLagging},
		{"a write with a position", replica.Read{After: 50}, healthy, replica.Primary, replica.ReasonNotLagging},
		{"no replica configured", lagging, replica.State{}, replica.Primary, replica.ReasonNoReplica},
		{"the caller asks for the primary", replica.Read{Lagging: true, Primary: true}, healthy, replica.Primary, replica.ReasonAskedPrimary},
		{"the replica is down", lagging, with(func(s *replica.State) { s.Up = false }), replica.Primary, replica.ReasonReplicaDown},
		{"the replica lags beyond the bound", lagging, with(func(s *replica.State) { s.Lag = maxLag + time.Millisecond }), replica.Primary, replica.ReasonReplicaLagging},
		{"the replica lags just at the bound", lagging, with(func(s *replica.State) { s.Lag = maxLag }), replica.Replica, replica.ReasonReplica},
		{"a healthy replica", lagging, healthy, replica.Replica, replica.ReasonReplica},
		{"a position the replica has replayed", replica.Read{Lagging: true, After: 100}, healthy, replica.Replica, replica.ReasonReplica},
		{"a position ahead of the replica: wait", replica.Read{Lagging: true, After: 101}, healthy, replica.Wait, replica.ReasonBehind},
		{"a position still ahead after the wait", replica.Read{Lagging: true, After: 101, Waited: true}, healthy, replica.Primary, replica.ReasonBehindTimeout},
		{"a position on a replica that is down", replica.Read{Lagging: true, After: 101}, with(func(s *replica.State) { s.Up = false }), replica.Primary, replica.ReasonReplicaDown},
		{"asked for the primary, with a position", replica.Read{Lagging: true, Primary: true, After: 1}, healthy, replica.Primary, replica.ReasonAskedPrimary},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := replica.Route(c.read, c.state, maxLag)
			if d.Target != c.target || d.Reason != c.reason {
				t.Errorf("Route(%+v, %+v) = %v %s, want %v %s", c.read, c.state, d.Target, d.Reason, c.target, c.reason)
			}
		})
	}
}

func TestPositionRoundTrip(t *testing.T) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF", "0/3000148"} {
		p, err := replica.ParsePosition(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePosition(%q) = %v %v", s, p, err)
		}
	}
	if p, _ := replica.ParsePosition("1/0"); p != 1<<32 {
		t.Errorf("1/0 = %d", p)
	}
	for _, s := range []string{"", "0", "/1", "1/", "G/0", "1/2/3", "123456789/0", "-1/0"} {
		if _, err := replica.ParsePosition(s); err == nil {
			t.Errorf("ParsePosition(%q) took it", s)
		}
	}
}
