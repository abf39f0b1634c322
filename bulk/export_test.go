package bulk

import (
	"context"
	"fmt"
)

// CreditChunk credits members [from, to) of bulk credit id as one chunk, as a
// run that planned that chunk would: the tests commit chunks out of order (a run
// killed with some of its chunks committed) and race a chunk against the runs.
func (s *Service) CreditChunk(ctx context.Context, id, from, to int64) (credited int64, moved bool, err error) {
	row, err := s.q.BulkCreditRow(ctx, s.pool, id)
	if err != nil {
		return 0, false, fmt.Errorf("bulk credit %d: %w", id, err)
	}
	return s.chunk(ctx, row, seqRange{from, to})
}
