// Package replica sends the reads that may lag behind the writes to a streaming
// replica (a PostgreSQL hot standby) and everything else to the primary
// (docs/SCALING.md, "Read replicas"). Route is the one routing rule; the Router
// holds the replica's state, which a background poller keeps (its lag, whether it
// answers), so that a call pays no query to be routed.
package replica

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Position is a place in the primary's write-ahead log (an LSN). A client that
// must read its own write carries the write's position to the read; the replica
// has the write once it has replayed up to it.
type Position uint64

// ParsePosition reads PostgreSQL's text form of an LSN, "16/B374D848".
func ParsePosition(s string) (Position, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("position %q: want the form 16/B374D848", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("position %q: want the form 16/B374D848", s)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("position %q: want the form 16/B374D848", s)
	}
	return Position(h<<32 | l), nil
}

// String is PostgreSQL's text form of the position.
func (p Position) String() string { return fmt.Sprintf("%X/%X", uint64(p)>>32, uint64(p)&0xFFFFFFFF) }

// Read is what a call asks of the routing.
type Read struct {
	// Lagging: the call is a read that may be answered from a replica (a
	// statement, a past balance, lots, a report, an export). Current balances
	// and every write are not.
	Lagging bool
	// Primary: the caller asked for the primary (it must see its own write and
	// has no position to give).
	Primary bool
	// After: the caller must see everything up to this position (zero: no
	// such need).
	After Position
	// Waited: the call has already waited for the replica to reach After.
	Waited bool
}

// State is the replica as the poller last saw it.
type State struct {
	// Configured: there is a replica at all.
	Configured bool
	// Up: the last poll reached it and it is replaying (a standby).
	Up bool
	// Lag is how far behind the primary its replay is, in time.
	Lag time.Duration
	// Replayed is the position it has replayed up to.
	Replayed Position
}

// Target is where a read goes, or that it must wait for the replica first.
type Target int

const (
	// Primary: the read runs on the primary.
	Primary Target = iota
	// Replica: the read runs on the replica.
	Replica
	// Wait: the replica is healthy but has not yet replayed the caller's
	// position; wait for the next poll (up to a bound), then route again.
	Wait
)

func (t Target) String() string {
	switch t {
	case Replica:
		return "replica"
	case Wait:
		return "wait"
	}
	return "primary"
}

// Decision is a routing decision and why (a metric label: few, fixed values).
type Decision struct {
	Target Target
	Reason string
}

// Reasons of the decisions.
const (
	ReasonNotLagging     = "not_lagging"      // a write, a current balance: always the primary
	ReasonNoReplica      = "no_replica"       // none configured
	ReasonAskedPrimary   = "asked_primary"    // the caller asked for the primary
	ReasonReplicaDown    = "replica_down"     // the last poll failed
	ReasonReplicaLagging = "replica_lagging"  // lag beyond the bound
	ReasonBehind         = "behind_position"  // waiting for the caller's position
	ReasonBehindTimeout  = "position_timeout" // waited, still behind: the primary
	ReasonReplica        = "replica"
)

// Route decides where a read goes: the primary unless the call may lag, a
// replica is configured, the caller did not ask for the primary, the replica is
// up and within maxLag of the primary, and it has replayed the caller's
// position. A caller whose position the replica has not yet replayed waits once
// for it (Wait), then goes to the primary: it never reads older than its write.
func Route(r Read, st State, maxLag time.Duration) Decision {
	switch {
	case !r.Lagging:
		return Decision{Primary, ReasonNotLagging}
	case !st.Configured:
		return Decision{Primary, ReasonNoReplica}
	case r.Primary:
		return Decision{Primary, ReasonAskedPrimary}
	case !st.Up:
		return Decision{Primary, ReasonReplicaDown}
	case st.Lag > maxLag:
		return Decision{Primary, ReasonReplicaLagging}
	case r.After > st.Replayed && r.Waited:
		return Decision{Primary, ReasonBehindTimeout}
	case r.After > st.Replayed:
		return Decision{Wait, ReasonBehind}
	}
	return Decision{Replica, ReasonReplica}
}
