package s3

import (
	"context"
	"fmt"

	"github.com/tack-ipfs/tack/blockstore"
)

var _ blockstore.Prober = (*Store)(nil)

// Probe asks the bucket whether it exists (one HEAD request), so that
// readiness sees a bucket that is down, frozen or gone: the pack index
// answers reads of which blocks exist without it.
func (s *Store) Probe(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("the bucket %s does not answer: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("the bucket %s is gone", s.bucket)
	}
	return nil
}
