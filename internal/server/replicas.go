package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/replica"
)

// Read-your-writes on a read replica (docs/SCALING.md, "Read replicas"): a write
// sent with Loyalty-Want-Position answers the primary's WAL position in
// Loyalty-Position; a read sent with it as Loyalty-Min-Position sees the write
// (on the replica once it has replayed it, else on the primary), and a read sent
// with Loyalty-Read-Primary runs on the primary. Without them the write path
// pays nothing: the position costs a query only when asked for.
const (
	wantPositionHeader = "loyalty-want-position"
	positionHeader     = "loyalty-position"
	minPositionHeader  = "loyalty-min-position"
	readPrimaryHeader  = "loyalty-read-primary"
)

// laggingReads are the calls a replica's slightly older snapshot may answer, by
// method, each deciding on its request: statements, balances as of a past
// instant, lots, the liability report and campaign stats. Current balances and
// every write are not here: they run on the primary. (The exports, REST-only,
// are routed in exports_rest.go.)
var laggingReads = map[string]func(req any) bool{
	loyaltyv1.PointsService_ListActivity_FullMethodName: always,
	loyaltyv1.PointsService_ListLots_FullMethodName:     always,
	loyaltyv1.PointsService_GetBalance_FullMethodName: func(req any) bool {
		r, ok := req.(*loyaltyv1.GetBalanceRequest)
		return ok && r.GetAsOfTime() != nil
	},
	loyaltyv1.LedgerService_GetLiabilityReport_FullMethodName: always,
	loyaltyv1.CampaignService_GetCampaignStats_FullMethodName: always,
}

func always(any) bool { return true }

// routeReads runs the calls of laggingReads where replica.Route sends them, again
// on the primary when the replica fails under them, and answers the position of
// any call that asks for it.
func routeReads(router *replica.Router, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md := replicaHeaders(ctx)
		var resp any
		var err error
		if lagging, ok := laggingReads[info.FullMethod]; ok && lagging(req) {
			resp, err = routedRead(ctx, router, md, func(ctx context.Context) (any, error) { return handler(ctx, req) })
		} else {
			resp, err = handler(ctx, req)
		}
		if err == nil && headerTrue(md, wantPositionHeader) {
			answerPosition(ctx, router, log)
		}
		return resp, err
	}
}

// replicaHeaders are the call's replica headers alone (nil when it sends none):
// three value reads instead of a copy of the call's whole metadata, on every call.
func replicaHeaders(ctx context.Context) metadata.MD {
	var md metadata.MD
	for _, k := range []string{wantPositionHeader, minPositionHeader, readPrimaryHeader} {
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) > 0 {
			if md == nil {
				md = metadata.MD{}
			}
			md[k] = v
		}
	}
	return md
}

// routedRead runs read where the router sends it; a read the replica failed
// (down, or a conflict with its replay) runs again on the primary.
func routedRead[T any](ctx context.Context, router *replica.Router, md metadata.MD, read func(context.Context) (T, error)) (T, error) {
	want, err := readOf(md)
	if err != nil {
		var zero T
		return zero, err
	}
	pool, d, err := router.Pool(ctx, want)
	if err != nil {
		var zero T
		return zero, err
	}
	if d.Target != replica.Replica {
		return read(ctx)
	}
	out, err := read(database.WithReadPool(ctx, pool))
	if replica.ReplicaFailure(err) && ctx.Err() == nil {
		router.Failed(err)
		return read(ctx)
	}
	return out, err
}

// readOf is what the caller's headers ask of a read that may lag.
func readOf(md metadata.MD) (replica.Read, error) {
	r := replica.Read{Lagging: true, Primary: headerTrue(md, readPrimaryHeader)}
	if v := md.Get(minPositionHeader); len(v) > 0 && v[0] != "" {
		p, err := replica.ParsePosition(v[0])
		if err != nil {
			return replica.Read{}, invalidValue("Loyalty-Min-Position", "must be a position a Loyalty-Position header answered, like 16/B374D848")
		}
		r.After = p
	}
	return r, nil
}

// headerTrue tells whether the header is set to a true value (1, true).
func headerTrue(md metadata.MD, name string) bool {
	v := md.Get(name)
	if len(v) == 0 {
		return false
	}
	b, err := strconv.ParseBool(v[0])
	return err == nil && b
}

// answerPosition sends the primary's position as a response header. The call
// has succeeded: a position that cannot be read is logged, not an error (the
// caller can still read with Loyalty-Read-Primary).
func answerPosition(ctx context.Context, router *replica.Router, log *slog.Logger) {
	pos, err := router.Position(ctx)
	if err != nil {
		log.WarnContext(ctx, "WAL position not answered", "error", err)
		return
	}
	setCallHeader(ctx, positionHeader, pos.String())
}

// httpMD is the routing headers of a REST request that does not pass the
// gateway (the exports), as the gateway would hand them on.
func httpMD(h http.Header) metadata.MD {
	md := metadata.MD{}
	for _, name := range []string{minPositionHeader, readPrimaryHeader} {
		if v := h.Values(name); len(v) > 0 {
			md[name] = v
		}
	}
	return md
}
