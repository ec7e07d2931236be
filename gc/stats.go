package gc

import (
	"errors"
	"time"

	"github.com/tack-ipfs/tack"
)

// Stats returns what this Guard's collections did since it was made.
func (g *Guard) Stats() tack.GCStats {
	g.statsMu.Lock()
	defer g.statsMu.Unlock()
	s := g.stats
	if s.Last != nil {
		last := *s.Last
		s.Last = &last
	}
	return s
}

// record counts a collection that ran from start to end: one skipped
// because another node was collecting (ErrBusy) did not run here.
func (g *Guard) record(start, end time.Time, rep Report, err error) {
	if errors.Is(err, ErrBusy) {
		return
	}
	run := &tack.GCRun{Start: start, End: end, FreedBlocks: int64(rep.Freed), FreedBytes: rep.FreedSize}
	g.statsMu.Lock()
	defer g.statsMu.Unlock()
	g.stats.Runs++
	if err != nil {
		g.stats.Failed++
		run.Err = err.Error()
	}
	g.stats.FreedBlocks += run.FreedBlocks
	g.stats.FreedBytes += run.FreedBytes
	g.stats.Last = run
}
