package tack

import "time"

// The statistics each subsystem reports, defined here so that metrics
// and the web pages read them without importing the subsystem.

// PinnerStats counts what a pinner.Pinner did since it was made.
type PinnerStats struct {
	Fetches       int   // DAG fetches running now
	FetchedBlocks int64 // blocks received from the network
	FetchedBytes  int64 // and their bytes
	Retries       int64 // requests that stepped aside and went back to the queue to be tried again
	Pinned        int64 // requests this pinner's fetches recorded pinned
	Failed        int64 // requests it recorded failed
	// StoreErrors counts the store's failures (claiming, renewing leases,
	// recording outcomes), BlockstoreErrors the fetches that could not
	// store or sync their blocks.
	StoreErrors      int64
	BlockstoreErrors int64
}

// GCStats counts what one process's garbage collections did since it
// started: package gc keeps it (Guard.Stats), and the metrics and the
// operator's page both read it as it is.
type GCStats struct {
	Runs        int64 // collections that ran, failed ones included
	Failed      int64 // collections that failed
	FreedBlocks int64 // blocks they freed
	FreedBytes  int64 // and their bytes
	// Last is the last collection; nil before the first.
	Last *GCRun
}

// GCRun is one garbage collection.
type GCRun struct {
	Start, End  time.Time
	FreedBlocks int64
	FreedBytes  int64
	Err         string // why it failed; "" if it did not
}

// ReprovideCycle is what one reprovide cycle of the sweeping provider did.
// The provider sweeps the keyspace region by region over the interval, so
// a cycle takes about the interval by design; what tells whether it keeps
// up is Late (regions whose time had passed and still waited) and Failed.
type ReprovideCycle struct {
	Start, End   time.Time     // the part of the cycle this process saw
	Observed     time.Duration // how long the stats loop watched it
	Keys         int64         // keys in the keystore at the end
	Provided     int64         // keys announced during the cycle: reprovides and first announces
	Failed       int64         // keys whose announce failed during the cycle
	Regions      int64         // keyspace regions reprovided in the last interval
	Late         int64         // regions waiting to be reprovided at the end
	RegionTook   time.Duration // the average time to reprovide a region
	Connectivity string        // online, disconnected or offline at the end
}

// ProvideStats is the state of providing on the DHT, for the operator:
// package node reports it (Node.ProvideStats), and the metrics and the
// operator's page both read it as it is.
type ProvideStats struct {
	Enabled      bool          // false when the DHT is off
	Strategy     string        // all (every block) or roots: node.ProvideAll or node.ProvideRoots
	Interval     time.Duration // the reprovide interval
	Connectivity string        // online, disconnected or offline
	Keys         int64         // keys kept provided: one provider record each on ~20 DHT servers
	Provided     int64         // keys announced since start, reprovides included
	Failed       int64         // announces that failed since start
	Pending      int64         // keys waiting for their first announce
	Regions      int64         // keyspace regions in the schedule
	Reproviding  int64         // keys being reprovided right now
	CycleStart   time.Time     // the start of the running cycle
	NextAt       time.Time     // the next region's reprovide
	Synced       time.Time     // when the keystore last matched the keys to provide; zero: not yet
	Last         *ReprovideCycle
}
