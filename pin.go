package tack

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// Status is the state of a pin request. These four are the only values the
// Pinning Service API allows.
type Status string

// The statuses of a pin request.
const (
	StatusQueued  Status = "queued"  // accepted, waiting for a worker
	StatusPinning Status = "pinning" // a worker is fetching the DAG
	StatusPinned  Status = "pinned"  // every block of the DAG is stored
	StatusFailed  Status = "failed"  // given up; Details says why
)

// ParseStatus returns the Status named s, or EINVALID.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusQueued, StatusPinning, StatusPinned, StatusFailed:
		return st, nil
	}
	return "", Errorf(EINVALID, "unknown status %q: use queued, pinning, pinned or failed", s)
}

// Limits on what a user may send.
const (
	MaxNameBytes   = 255  // Pin.name, in bytes
	MaxOrigins     = 20   // Pin.origins
	MaxMetaKeys    = 1000 // Pin.meta
	MaxFilterCIDs  = 10   // cid filter of GET /pins
	MaxListLimit   = 1000 // limit of GET /pins
	DefaultLimit   = 10   // limit of GET /pins when absent
	MaxMetaKeySize = 255  // bytes of one meta key
	MaxMetaValSize = 4096 // bytes of one meta value
)

// Pin is what a user asks to pin: the Pin object of the API.
type Pin struct {
	CID     string            // as the client sent it
	Name    string            // optional, at most MaxNameBytes
	Origins []string          // multiaddrs of peers that hold the DAG
	Meta    map[string]string // free-form, returned as is
}

// PinRequest is one pin request of one account: the PinStatus of the API.
type PinRequest struct {
	ID        string // the requestid: random, opaque
	AccountID int64
	Pin       Pin
	Key       string // the DAG's content key (see ContentKey)
	Status    Status
	Created   time.Time // unique per account, microsecond precision, UTC
	Details   string    // progress while pinning, the reason when failed
	Blocks    int64     // blocks fetched so far; the DAG's block count once pinned
	Bytes     int64     // bytes fetched so far; the DAG's size once pinned
	// Attempts counts the fetches of this request that ended without the
	// DAG (nothing found in time); RetryAt, if not zero, is when a queued
	// request that is waiting to be tried again becomes ready.
	Attempts int
	RetryAt  time.Time
	// Held says that a queued request is not claimed because its account
	// is blocked; it waits, keeping its place in the account's turns.
	Held bool
	// Turn is the request's place in the fair queue as the store read it:
	// ready requests are claimed in (Turn, Created, ID) order. The store
	// sets it; QueuePositions reads it.
	Turn int64
	// ProgressAt is when the request last made progress: its creation, or
	// the last block a fetch for it received. A request fails after
	// --pin-timeout without progress.
	ProgressAt time.Time
	// Position is, for a ready queued request, its place in the queue of
	// every account's requests, as PinStore.QueuePositions found it: 1 is
	// next in line. 0 means unknown. Deep in the queue it is not counted:
	// PositionOver says that more than MaxCountedPosition requests are
	// ahead, and OwnAhead estimates how many of those are the account's.
	Position     int64
	PositionOver bool
	OwnAhead     int64
	// Waiting, for a queued request, says why no queued request is being
	// fetched now, if one of the node's parts says so (a full disk, say):
	// see pinner.Pinner.Waiting. It is not stored.
	Waiting string
}

// MaxCountedPosition is how far into the queue positions are counted
// exactly; beyond it a position is "more than" this, so that it costs the
// same in a queue of any length.
const MaxCountedPosition = 1000

// Info returns the PinStatus.info map of the request.
func (r *PinRequest) Info() map[string]string {
	info := map[string]string{}
	switch r.Status {
	case StatusQueued:
		switch {
		case r.Held:
			info["status_details"] = "queued: held: the account is blocked"
			return info
		case !r.RetryAt.IsZero():
			info["status_details"] = "queued: " + r.Details + "; attempt " + strconv.Itoa(r.Attempts) +
				", next try " + r.RetryAt.UTC().Format(time.RFC3339)
			return info
		case r.PositionOver:
			info["status_details"] = "queued: more than " + strconv.Itoa(MaxCountedPosition) + " requests ahead in the queue"
			if r.OwnAhead > 0 {
				info["status_details"] += ", about " + strconv.FormatInt(r.OwnAhead, 10) + " of them this account's"
			}
		case r.Position == 0:
			info["status_details"] = "queued: waiting for a worker"
		case r.Position == 1:
			info["status_details"] = "queued: next in line for a worker"
		case r.Position == 2:
			info["status_details"] = "queued: 1 request ahead in the queue"
		default:
			info["status_details"] = "queued: " + strconv.FormatInt(r.Position-1, 10) + " requests ahead in the queue"
		}
		if r.Details != "" {
			info["status_details"] += "; " + r.Details
		}
		if r.Waiting != "" {
			info["status_details"] += "; " + r.Waiting
		}
	case StatusPinning:
		info["status_details"] = "fetching: " + strconv.FormatInt(r.Blocks, 10) + " blocks, " + strconv.FormatInt(r.Bytes, 10) + " bytes so far"
		if r.Details != "" {
			info["status_details"] += "; " + r.Details
		}
	case StatusPinned:
		info["dag_size"] = strconv.FormatInt(r.Bytes, 10)
		info["blocks"] = strconv.FormatInt(r.Blocks, 10)
	case StatusFailed:
		info["status_details"] = r.Details
	}
	return info
}

// Match is how GET /pins compares the name filter.
type Match string

// The four match modes of the API.
const (
	MatchExact    Match = "exact"    // case-sensitive, whole name
	MatchIExact   Match = "iexact"   // case-insensitive, whole name
	MatchPartial  Match = "partial"  // case-sensitive substring
	MatchIPartial Match = "ipartial" // case-insensitive substring
)

// ParseMatch returns the Match named s, or EINVALID.
func ParseMatch(s string) (Match, error) {
	switch m := Match(s); m {
	case MatchExact, MatchIExact, MatchPartial, MatchIPartial:
		return m, nil
	}
	return "", Errorf(EINVALID, "unknown match %q: use exact, iexact, partial or ipartial", s)
}

// PinFilter selects an account's pin requests. All set fields must match.
type PinFilter struct {
	AccountID int64
	Keys      []string // content keys, any of them (empty: any)
	Name      *string  // compared with Match
	Match     Match
	Statuses  []Status          // any of them (empty: any)
	Before    time.Time         // created strictly before, if not zero
	After     time.Time         // created strictly after, if not zero
	Meta      map[string]string // every pair must be in the pin's meta
	Limit     int               // 1..MaxListLimit
}

// OnlyStatuses reports whether f selects by account and status alone, so
// that a store's per-status counters hold the count of what it matches.
func (f PinFilter) OnlyStatuses() bool {
	return len(f.Keys) == 0 && f.Name == nil && f.Before.IsZero() && f.After.IsZero() && len(f.Meta) == 0
}

// DAG is a DAG that tack holds whole.
type DAG struct {
	Key    string
	Blocks int64
	Bytes  int64
}

// Progress is what a fetch has done so far for the requests it serves.
type Progress struct {
	Blocks, Bytes int64
	At            time.Time // the last block received from the network; zero if none
}

// Retry is when a request that could not be fetched yet is tried again.
type Retry struct {
	ID string
	At time.Time
}

// PinStore keeps pin requests and their queue.
type PinStore interface {
	// CreatePin stores a new request. The store sets Created to a time not
	// before now that is unique for the account, in microseconds. If the
	// DAG is already held whole (see CompleteDAG), the request is stored
	// pinned with the DAG's size; otherwise it is stored with r.Status,
	// which must be queued, at the back of the account's turns (see
	// ClaimPins). Returns ENOTFOUND if the account does not exist, EQUOTA
	// if a queued request would take the account over its MaxPending.
	// A store may also set Position (PositionOver, OwnAhead) as
	// QueuePositions would, when it can at no cost; Position 0 leaves
	// that to QueuePositions.
	CreatePin(ctx context.Context, r *PinRequest) error

	// FindPinByID returns the account's request. Returns ENOTFOUND if there
	// is none, or if the request belongs to another account.
	FindPinByID(ctx context.Context, accountID int64, id string) (*PinRequest, error)

	// FindPins returns the matching requests, newest first (Created, then ID,
	// descending), at most f.Limit of them, and how many match in all.
	FindPins(ctx context.Context, f PinFilter) ([]*PinRequest, int, error)

	// ReplacePin stores r as CreatePin does and deletes the request oldID in
	// the same transaction. Returns ENOTFOUND, storing nothing, if the
	// account has no request oldID.
	ReplacePin(ctx context.Context, accountID int64, oldID string, r *PinRequest) error

	// DeletePin deletes the account's request. Returns ENOTFOUND if there is
	// none, or if it belongs to another account.
	DeletePin(ctx context.Context, accountID int64, id string) error

	// QueuePositions sets Position on every ready queued request among
	// reqs: 1 plus how many ready requests, of any account, come before it
	// in the order ClaimPins takes them. Past MaxCountedPosition it sets
	// PositionOver and OwnAhead instead. It leaves the other requests
	// alone, and costs O(MaxCountedPosition + log n) a request at most.
	QueuePositions(ctx context.Context, reqs []*PinRequest) error

	// ClaimPins hands up to n requests to the worker owner: first pinning
	// ones whose lease ran out (their worker died), then ready queued ones
	// in turn order, which takes turns between accounts: every account's
	// k-th waiting request comes before any account's (k+1)-th. Requests
	// waiting to retry become ready, at the back of their account's turns,
	// once their RetryAt has passed. Claimed requests become pinning,
	// leased to owner until until.
	ClaimPins(ctx context.Context, owner string, n int, until time.Time) ([]*PinRequest, error)

	// RenewLeases extends owner's lease on the given pinning requests until
	// until and records the fetch's progress so far: blocks and bytes, and
	// p.At, if later than their ProgressAt, as their ProgressAt. It returns
	// the IDs that owner still holds: a deleted request, or one taken over
	// by another worker, is left out.
	RenewLeases(ctx context.Context, owner string, ids []string, until time.Time, p Progress) ([]string, error)

	// RetryPins puts owner's pinning requests among retries back in the
	// queue to wait until their At, counts an attempt for each, records
	// reason as their Details and p.At (if later) as their ProgressAt.
	RetryPins(ctx context.Context, owner string, retries []Retry, reason string, p Progress) error

	// ReleasePins returns owner's pinning requests among ids to the queue.
	// With ids nil it returns all of owner's: a process that restarts
	// takes back what its previous run held without waiting for leases.
	ReleasePins(ctx context.Context, owner string, ids []string) error

	// FailPins marks owner's pinning requests among ids failed with reason.
	FailPins(ctx context.Context, owner string, ids []string, reason string) error

	// CompleteDAG records that the DAG is stored whole and marks every
	// queued or pinning request for it pinned, with its size, except those
	// of accounts that it would take over their MaxBytes: these fail, with
	// the limit named in their Details.
	CompleteDAG(ctx context.Context, d *DAG) error

	// FindDAG returns ENOTFOUND unless CompleteDAG recorded the key.
	FindDAG(ctx context.Context, key string) (*DAG, error)

	// PurgePins deletes every request of the account, whatever its status,
	// and returns how many there were. Fetches that only they needed stop
	// when their workers next renew their leases.
	PurgePins(ctx context.Context, accountID int64) (int, error)

	DAGStore
}

// DAGStore is what garbage collection, verification and providing need
// of the store: which DAGs are held, and which are still needed.
type DAGStore interface {
	// ListDAGs returns up to limit of the DAGs that CompleteDAG recorded,
	// in key order, starting after the key after ("" starts at the first).
	ListDAGs(ctx context.Context, after string, limit int) ([]*DAG, error)

	// ForgetDAGs deletes the record of every DAG that no queued, pinning
	// or pinned request refers to, and returns how many it deleted. From
	// then on a new request for one of them is fetched (its blocks found
	// in the blockstore or fetched again) rather than pinned at once, so
	// the garbage collector may free blocks that only forgotten DAGs use.
	ForgetDAGs(ctx context.Context) (int, error)

	// WantedKeys returns up to limit content keys, in order and starting
	// after after, of DAGs that queued or pinning requests need: their
	// own, and those of the requests they replaced, whose blocks (some of
	// them shared with the new DAG, often) stay until the replacement is
	// pinned or failed.
	WantedKeys(ctx context.Context, after string, limit int) ([]string, error)

	// RequeueDAG deletes the record of a DAG that turned out to be missing
	// blocks, and puts every pinned request for it back in the queue, at
	// the back of its account's turns, with reason as its details. It
	// returns how many requests it requeued.
	RequeueDAG(ctx context.Context, key, reason string) (int, error)
}

// MergeKeys merges lists of content keys, each in order, into one, in
// order and without repeats, cut at limit. Where each list holds the first
// limit keys after some key, as WantedKeys' queries do, the merge is
// complete up to its last key.
func MergeKeys(limit int, lists ...[]string) []string {
	keys := slices.Compact(slices.Sorted(slices.Values(slices.Concat(lists...))))
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys
}
