package campaigns_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/events"
)

// statusMoves are the campaign's status events, as "FROM>TO@time".
func statusMoves(t *testing.T, e engine, id string) []string {
	t.Helper()
	feed, err := events.NewStore(e.pool).List(ctx, events.Filter{Types: []events.Type{events.CampaignStatusChanged}, Limit: events.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range feed {
		var d events.CampaignData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.CampaignID == id {
			out = append(out, d.FromStatus+">"+d.Status+"@"+ev.OccurTime.UTC().Format(time.RFC3339))
		}
	}
	return out
}

// A campaign's status events tell its effective status once per move: activated
// before its start it is SCHEDULED, and the schedule job tells ACTIVE at the start
// and ENDED at the end, at the instants they happened, however late it runs; one
// activated after its start is ACTIVE at once, and the job's catching up on the
// stored status tells nothing again.
func TestStatusEventsTellTheEffectiveStatus(t *testing.T) {
	e := newEngine(t, "m")
	start := time.Date(2026, 11, 10, 16, 0, 0, 0, time.UTC)
	end := start.Add(24 * time.Hour)
	e.clock.Set(start.Add(-time.Hour))
	early := e.launch(t, double11())
	e.clock.Set(start.Add(time.Hour))
	late := e.launch(t, double11())
	advance := func(at time.Time) {
		e.clock.Set(at)
		if _, err := e.campaigns.AdvanceSchedules(ctx); err != nil {
			t.Fatal(err)
		}
	}
	advance(start.Add(2 * time.Hour)) // both move to ACTIVE in storage
	advance(end.Add(3 * time.Hour))   // both end
	at := func(t time.Time) string { return t.Format(time.RFC3339) }
	for _, tc := range []struct {
		c    campaigns.Campaign
		want []string
	}{
		{early, []string{"DRAFT>SCHEDULED@" + at(start.Add(-time.Hour)), "SCHEDULED>ACTIVE@" + at(start), "ACTIVE>ENDED@" + at(end)}},
		{late, []string{"DRAFT>ACTIVE@" + at(start.Add(time.Hour)), "ACTIVE>ENDED@" + at(end)}},
	} {
		if got := statusMoves(t, e, tc.c.ID); !slices.Equal(got, tc.want) {
			t.Errorf("campaign %s: status events %v, want %v", tc.c.ID, got, tc.want)
		}
	}
}
