package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/database"
)

// Every component's transaction retries are one series on the server's /metrics,
// labelled by component and SQLSTATE, and two servers in one process register it
// without a clash.
func TestTxRetriesAreOnMetricsByComponent(t *testing.T) {
	env := apitest.Start(t)
	apitest.Start(t) // a second server registers the same collector on its own registry

	runs := 0
	err := database.NewRunner("metrics-test").Retry(context.Background(), func() error {
		if runs++; runs == 1 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	metrics := env.REST("GET", "/metrics", "", nil)
	if want := `loyalty_tx_retries_total{component="metrics-test",reason="40001"} 1`; !strings.Contains(string(metrics.Raw), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
