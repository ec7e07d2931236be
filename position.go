package tack

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// QueueKey is a ready request's place in the queue: ClaimPins takes ready
// requests (queued, not waiting to retry, not held) in (Turn, Created,
// ID) order, Created in Micros.
type QueueKey struct {
	Turn, Created int64
	ID            string
}

// QueueKeyOf returns r's place in the queue, were it ready.
func QueueKeyOf(r *PinRequest) QueueKey {
	return QueueKey{r.Turn, Micros(r.Created), r.ID}
}

// Compare orders queue keys as claims take them (IDs in byte order).
func (k QueueKey) Compare(o QueueKey) int {
	return cmp.Or(cmp.Compare(k.Turn, o.Turn), cmp.Compare(k.Created, o.Created), strings.Compare(k.ID, o.ID))
}

// QueueReader is what QueuePositions asks of a store: its queries over
// the ready requests, each in the store's own SQL.
type QueueReader interface {
	// CountReady returns how many ready requests have keys in [from, to),
	// counting no further than limit.
	CountReady(ctx context.Context, from, to QueueKey, limit int64) (int64, error)
	// ReadyAt returns the key of the ready request with n ready requests
	// ahead of it, or nil if the queue is shorter.
	ReadyAt(ctx context.Context, n int64) (*QueueKey, error)
	// ReadyHead returns the least turn among the account's ready
	// requests, or 0 if it has none.
	ReadyHead(ctx context.Context, accountID int64) (int64, error)
}

// QueueHorizonTTL is how long a QueueHorizon is used before it is looked
// up again.
const QueueHorizonTTL = time.Second

// QueueHorizon keeps the key of the ready request with MaxCountedPosition
// requests ahead of it: every request after it is past the counted
// positions. It is looked up at most once a QueueHorizonTTL: under a
// stream of POST /pins to a long queue, each new request is then known to
// be past the count without counting, at the price of positions near the
// horizon that are up to a second old. The zero value is ready to use; a
// store keeps one.
type QueueHorizon struct {
	mu  sync.Mutex
	key *QueueKey // nil: the queue is shorter
	at  time.Time // when key was looked up; zero: never
}

// Fresh returns the horizon as last looked up, and whether that was less
// than a QueueHorizonTTL ago.
func (h *QueueHorizon) Fresh() (*QueueKey, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.key, !h.at.IsZero() && time.Since(h.at) < QueueHorizonTTL
}

// get returns the horizon, looked up through q unless Fresh.
func (h *QueueHorizon) get(ctx context.Context, q QueueReader) (*QueueKey, error) {
	if k, ok := h.Fresh(); ok {
		return k, nil
	}
	k, err := q.ReadyAt(ctx, MaxCountedPosition)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.key, h.at = k, time.Now()
	h.mu.Unlock()
	return k, nil
}

// QueuePositions sets Position on the ready queued requests among reqs,
// from their Turn and Created, as PinStore.QueuePositions says, reading
// the queue through q. It walks them in queue order and counts the ready
// requests between each and the next, but never more than
// MaxCountedPosition in all: past that, or past the horizon h, the rest
// are PositionOver, with OwnAhead estimated from their account's turns.
func QueuePositions(ctx context.Context, q QueueReader, h *QueueHorizon, reqs []*PinRequest) error {
	type queued struct {
		r   *PinRequest
		key QueueKey
	}
	var qs []queued
	for _, r := range reqs {
		// Where the caller read it: a request claimed or deleted since
		// counts from where it was.
		if r.Status == StatusQueued && r.RetryAt.IsZero() && !r.Held {
			qs = append(qs, queued{r, QueueKeyOf(r)})
		}
	}
	if len(qs) == 0 {
		return nil
	}
	slices.SortFunc(qs, func(a, b queued) int { return a.key.Compare(b.key) })
	horizon, err := h.get(ctx, q)
	if err != nil {
		return err
	}
	// Each stretch starts at the previous request, which counts as ahead
	// of the next; the first starts before every request. A request past
	// the horizon is not counted at all.
	pos, from := int64(1), QueueKey{Turn: -1 << 62}
	heads := map[int64]int64{}
	for _, e := range qs {
		if horizon != nil && horizon.Compare(e.key) < 0 {
			pos = MaxCountedPosition + 1
		}
		if pos <= MaxCountedPosition {
			n, err := q.CountReady(ctx, from, e.key, MaxCountedPosition+1)
			if err != nil {
				return err
			}
			pos += n
			from = e.key
		}
		if pos <= MaxCountedPosition {
			e.r.Position, e.r.PositionOver = pos, false
			continue
		}
		head, ok := heads[e.r.AccountID]
		if !ok {
			if head, err = q.ReadyHead(ctx, e.r.AccountID); err != nil {
				return err
			}
			heads[e.r.AccountID] = head
		}
		e.r.Position, e.r.PositionOver, e.r.OwnAhead = MaxCountedPosition+1, true, max(e.key.Turn-head, 0)
	}
	return nil
}
