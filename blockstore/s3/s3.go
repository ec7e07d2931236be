// Package s3 is a tack blockstore on S3-compatible object storage, for
// several tack nodes that share one bucket and one metadata store.
//
// Blocks are packed: a write goes to an open pack buffer in memory, and a
// pack object holds many blocks end to end (PackSize bytes, or what was
// written when Sync is called or FlushAfter has passed). Where each block
// is — pack, offset, length — is in a blockstore.PackIndex in the
// metadata store, so every node finds every block; a read is a ranged GET
// of the pack. A local Cache holds hot blocks, filled on write and on
// read. Deleted blocks leave dead bytes in their packs until Compact
// rewrites the mostly dead packs.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	boxobs "github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
)

// Defaults of Options.
const (
	DefaultPackSize   = 16 << 20
	DefaultFlushAfter = 2 * time.Second
	DefaultUploads    = 4
)

// Options configure a Store.
type Options struct {
	Endpoint     string // host[:port] of the S3 API
	Secure       bool   // https, not http
	Region       string // empty: the server's default
	Bucket       string
	Prefix       string // object keys start with it; "" or ending in "/"
	AccessKey    string
	SecretKey    string
	SessionToken string

	// Transport carries the requests; nil: minio-go's default.
	Transport http.RoundTripper

	Index blockstore.PackIndex // required
	Cache *blockstore.Cache    // nil: no local cache

	PackSize   int64         // a pack is uploaded once it holds this many bytes; 0: DefaultPackSize
	FlushAfter time.Duration // and at the latest this long after its first block; 0: DefaultFlushAfter
	Uploads    int           // packs uploaded at once; 0: DefaultUploads

	// Log receives the store's log lines (failed uploads, listings and
	// compactions); nil: slog.Default() as it is when the store opens.
	Log *slog.Logger
}

// ParseURL reads a --blocks URL, s3://bucket[/prefix][?endpoint=URL&region=R].
// The endpoint defaults to https://s3.amazonaws.com; http is allowed, for
// a server on the local network. Credentials are not part of it: see
// CredentialsFromEnv.
func ParseURL(s string) (Options, error) {
	var o Options
	u, err := url.Parse(s)
	if err != nil {
		return o, fmt.Errorf("blocks URL: %w", err)
	}
	if u.Scheme != "s3" {
		return o, fmt.Errorf("blocks URL %q: the scheme must be s3 (s3://bucket/prefix?endpoint=…)", s)
	}
	if u.Host == "" {
		return o, fmt.Errorf("blocks URL %q: no bucket (s3://bucket/prefix?endpoint=…)", s)
	}
	if u.User != nil {
		return o, fmt.Errorf("blocks URL %q: credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not the URL", s)
	}
	o.Bucket = u.Host
	if p := strings.Trim(u.Path, "/"); p != "" {
		o.Prefix = p + "/"
	}
	endpoint := "https://s3.amazonaws.com"
	for k, v := range u.Query() {
		switch k {
		case "endpoint":
			endpoint = v[0]
		case "region":
			o.Region = v[0]
		default:
			return o, fmt.Errorf("blocks URL %q: unknown parameter %q (endpoint and region are known)", s, k)
		}
	}
	e, err := url.Parse(endpoint)
	if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || (e.Path != "" && e.Path != "/") {
		return o, fmt.Errorf("blocks URL %q: endpoint must be http://host[:port] or https://host[:port], not %q", s, endpoint)
	}
	o.Endpoint, o.Secure = e.Host, e.Scheme == "https"
	return o, nil
}

// CredentialsFromEnv sets the credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (optional), as the AWS
// tools read them.
func (o *Options) CredentialsFromEnv(getenv func(string) string) error {
	o.AccessKey, o.SecretKey, o.SessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	if o.AccessKey == "" || o.SecretKey == "" {
		return errors.New("S3 blockstore: set the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return nil
}

// Store is the S3 blockstore.
type Store struct {
	client     *minio.Client
	secure     bool
	bucket     string
	prefix     string
	index      blockstore.PackIndex
	cache      *blockstore.Cache
	packSize   int64
	flushAfter time.Duration
	slots      chan struct{} // one per pack uploading
	log        *slog.Logger

	// commitMu orders a pack's commit to the index against deletions, so
	// that a block deleted while its pack uploads stays deleted, and
	// against Touch (see there).
	commitMu sync.Mutex

	mu       sync.Mutex
	open     *pack            // being filled; nil when empty
	pending  map[string]*slot // blocks written but not yet in the index
	inflight []*pack          // sealed, not yet in the index
	closed   bool
	// Syncs commit in groups: writes counts the blocks appended to packs,
	// sealed how many of them were in packs when the last one was sealed,
	// and syncing is the pack a Sync sealed and is uploading, if any. A
	// Sync that comes meanwhile waits for it, and then seals at once
	// everything written since, for every Sync that waited: one PUT for
	// many pins that end together, rather than one each.
	writes, sealed int64
	syncing        *pack

	// Blocks written wait in fills for the cache, so that a Put does not
	// wait for the local disk; past fillBytes queued, they are not cached.
	// A block deleted while it waits is not cached: unless no deletion
	// came since it was queued (delGen), the filler caches a block only
	// while it is still pending, holding fillMu, which a deletion takes
	// to drop blocks from the cache.
	fills   chan fillReq
	delGen  atomic.Uint64
	queued  atomic.Int64
	fillsWG sync.WaitGroup
	fillMu  sync.Mutex

	stop chan struct{}
	wg   sync.WaitGroup

	// beforeMove, if set, runs in Compact between copying the live
	// blocks of old packs and recording the moves (tests).
	beforeMove func()
}

var _ blockstore.Store = (*Store)(nil)

// pack is a pack being filled or uploaded.
type pack struct {
	name    string
	buf     []byte
	slots   []*slot
	started time.Time

	done   chan struct{} // closed once it is in the index (or given up at Close)
	failed chan struct{} // closed after it failed failAfter times (it is still retried)
	err    error         // the last failure; read after done or failed
}

// slot is where a block written but not yet indexed is.
type slot struct {
	p        *pack
	mh       []byte
	off, len int
}

// failAfter is how many failed attempts to upload a pack Sync waits for
// before it reports the error; the upload is retried meanwhile.
const failAfter = 3

// Open opens the store, creating the bucket if it does not exist.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Index == nil {
		return nil, errors.New("s3: no pack index")
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken),
		Secure:    o.Secure,
		Region:    o.Region,
		Transport: o.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	ok, err := client.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %s at %s: %w", o.Bucket, o.Endpoint, err)
	}
	if !ok {
		if err := client.MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region}); err != nil {
			return nil, fmt.Errorf("s3: creating bucket %s: %w", o.Bucket, err)
		}
	}
	s := &Store{
		client:     client,
		secure:     o.Secure,
		bucket:     o.Bucket,
		prefix:     o.Prefix,
		index:      o.Index,
		cache:      o.Cache,
		packSize:   orDefault(o.PackSize, DefaultPackSize),
		flushAfter: orDefault(o.FlushAfter, DefaultFlushAfter),
		slots:      make(chan struct{}, orDefault(o.Uploads, DefaultUploads)),
		pending:    map[string]*slot{},
		stop:       make(chan struct{}),
		log:        o.Log,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.wg.Add(1)
	go s.flusher()
	if s.cache != nil {
		s.fills = make(chan fillReq, 4096)
		s.fillsWG.Add(1)
		go s.filler()
	}
	return s, nil
}

// fillBytes bounds the bytes of written blocks waiting for the cache.
const fillBytes = 16 << 20

// fillReq is a written block waiting for the cache.
type fillReq struct {
	b   blocks.Block
	gen uint64 // delGen when it was queued
}

// fill queues a written block for the cache, unless too many bytes wait.
func (s *Store) fill(b blocks.Block) {
	n := int64(len(b.RawData()))
	if s.queued.Add(n) > fillBytes {
		s.queued.Add(-n)
		return
	}
	select {
	case s.fills <- fillReq{b, s.delGen.Load()}:
	default:
		s.queued.Add(-n)
	}
}

// filler caches the blocks queued by fill until fills is closed.
func (s *Store) filler() {
	defer s.fillsWG.Done()
	ctx := context.Background()
	for r := range s.fills {
		b := r.b
		s.fillMu.Lock()
		ok := s.delGen.Load() == r.gen
		if !ok {
			s.mu.Lock()
			_, ok = s.pending[string(b.Cid().Hash())]
			s.mu.Unlock()
		}
		if ok {
			s.cache.Put(ctx, b)
		}
		s.fillMu.Unlock()
		s.queued.Add(-int64(len(b.RawData())))
	}
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Put stores a block: in the open pack, and in the cache.
func (s *Store) Put(ctx context.Context, b blocks.Block) error {
	return s.PutMany(ctx, []blocks.Block{b})
}

// PutMany stores blocks.
func (s *Store) PutMany(ctx context.Context, bs []blocks.Block) error {
	var sealed []*pack
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("s3: put to a closed blockstore")
	}
	for _, b := range bs {
		mh := b.Cid().Hash()
		if _, ok := s.pending[string(mh)]; ok {
			continue // on its way already
		}
		if s.open == nil {
			s.open = s.newPack()
		}
		p := s.open
		sl := &slot{p: p, mh: mh, off: len(p.buf), len: len(b.RawData())}
		if len(p.buf)+sl.len > cap(p.buf) {
			// A pack starts small (a Sync may seal it soon, as for a
			// pin of a few blocks), then grows once to its full size.
			buf := make([]byte, len(p.buf), max(s.packSize+tack.MaxBlockSize, int64(len(p.buf)+sl.len)))
			copy(buf, p.buf)
			p.buf = buf
		}
		p.buf = append(p.buf, b.RawData()...)
		p.slots = append(p.slots, sl)
		s.pending[string(mh)] = sl
		s.writes++
		if int64(len(p.buf)) >= s.packSize {
			sealed = append(sealed, s.seal())
		}
	}
	if s.cache != nil {
		for _, b := range bs {
			s.fill(b)
		}
	}
	s.mu.Unlock()
	s.upload(sealed...)
	return nil
}

// newPack returns an empty pack with a new, unique name.
func (s *Store) newPack() *pack {
	var r [8]byte
	rand.Read(r[:])
	now := time.Now().UTC()
	return &pack{
		name:    s.prefix + "packs/" + now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(r[:]) + ".pack",
		buf:     make([]byte, 0, min(s.packSize, firstBuf)),
		started: now,
		done:    make(chan struct{}),
		failed:  make(chan struct{}),
	}
}

// firstBuf is the capacity a pack's buffer starts with.
const firstBuf = 1 << 20

// seal takes the open pack for uploading, under mu.
func (s *Store) seal() *pack {
	p := s.open
	s.open = nil
	s.sealed = s.writes
	s.inflight = append(s.inflight, p)
	return p
}

// upload starts uploading sealed packs, each once a slot is free: the
// caller waits for slots, which bounds the memory packs take.
func (s *Store) upload(ps ...*pack) {
	for _, p := range ps {
		s.slots <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.store(p)
		}()
	}
}

// store uploads a pack and records it in the index, retrying with a
// growing delay until it succeeds or the store is closed.
func (s *Store) store(p *pack) {
	var uploaded time.Time
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if !uploaded.IsZero() && time.Since(uploaded) > orphanAge/2 {
			// Compact may take it for an orphan soon: upload it again.
			uploaded = time.Time{}
		}
		err := s.storeOnce(p, &uploaded)
		if err == nil {
			close(p.done)
			return
		}
		s.log.Error("s3: storing a pack", "pack", p.name, "attempt", attempt, "err", err)
		p.err = err
		if attempt == failAfter {
			close(p.failed)
		}
		select {
		case <-s.stop:
			s.mu.Lock()
			s.dropPack(p)
			s.mu.Unlock()
			if attempt < failAfter {
				close(p.failed)
			}
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (s *Store) storeOnce(p *pack, uploaded *time.Time) error {
	ctx := context.Background()
	if uploaded.IsZero() {
		if err := s.putObject(ctx, p.name, p.buf); err != nil {
			return err
		}
		*uploaded = time.Now()
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	var entries []blockstore.PackMove
	for _, sl := range p.slots {
		if s.pending[string(sl.mh)] == sl { // not deleted meanwhile
			entries = append(entries, blockstore.PackMove{PackEntry: blockstore.PackEntry{Hash: sl.mh, Offset: int64(sl.off), Length: int64(sl.len)}})
		}
	}
	s.mu.Unlock()
	if err := s.index.AddPack(ctx, blockstore.Pack{Name: p.name, Size: int64(len(p.buf))}, entries); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	s.mu.Lock()
	s.dropPack(p)
	s.mu.Unlock()
	return nil
}

// putObject uploads a pack in one PUT. Over https the payload is not
// signed (TLS protects it, and a CRC32C trailer checks it): signing costs
// a SHA-256 of every byte on both sides, a quarter of the client's CPU
// for large blocks. Over http it is signed.
func (s *Store) putObject(ctx context.Context, name string, data []byte) error {
	_, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		DisableMultipart:     true,
		DisableContentSha256: s.secure,
	})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	return nil
}

// dropPack forgets a pack that is in the index, or given up, under mu.
func (s *Store) dropPack(p *pack) {
	for _, sl := range p.slots {
		if s.pending[string(sl.mh)] == sl {
			delete(s.pending, string(sl.mh))
		}
	}
	for i, q := range s.inflight {
		if q == p {
			s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
			break
		}
	}
}

// flusher uploads the open pack once it is FlushAfter old, so that blocks
// reach the bucket (and other nodes) without a Sync.
func (s *Store) flusher() {
	defer s.wg.Done()
	t := time.NewTicker(s.flushAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		var p *pack
		if s.open != nil && time.Since(s.open.started) >= s.flushAfter && !s.closed {
			p = s.seal()
		}
		s.mu.Unlock()
		if p != nil {
			s.upload(p)
		}
	}
}

// Sync makes every block written before it durable: their packs uploaded
// and recorded in the index. If a pack fails to be stored several times,
// Sync returns the error while the upload goes on being retried.
func (s *Store) Sync(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("s3: sync of a closed blockstore")
	}
	need := s.writes
	for s.sealed < need && s.syncing != nil {
		// Another Sync's pack is uploading: wait, while more writes and
		// Syncs gather, then seal them all in one pack.
		p := s.syncing
		s.mu.Unlock()
		select {
		case <-p.done:
		case <-p.failed:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		if s.syncing == p {
			s.syncing = nil
		}
	}
	var sealed *pack
	if s.sealed < need && s.open != nil {
		sealed = s.seal()
		s.syncing = sealed
	}
	wait := append([]*pack(nil), s.inflight...)
	s.mu.Unlock()
	if sealed != nil {
		s.upload(sealed)
		defer func() {
			s.mu.Lock()
			if s.syncing == sealed {
				s.syncing = nil
			}
			s.mu.Unlock()
		}()
	}
	for _, p := range wait {
		select {
		case <-p.done:
		case <-p.failed:
			select {
			case <-p.done:
			default:
				return p.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Get returns the block c names, or an ipld.ErrNotFound: from the blocks
// not yet indexed, the cache, or a ranged GET of its pack.
func (s *Store) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if !c.Defined() {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	mh := c.Hash()
	s.mu.Lock()
	if sl, ok := s.pending[string(mh)]; ok {
		data := bytes.Clone(sl.p.buf[sl.off : sl.off+sl.len])
		s.mu.Unlock()
		return blocks.NewBlockWithCid(data, c)
	}
	s.mu.Unlock()
	if s.cache != nil {
		if b, ok := s.cache.Get(ctx, c); ok {
			return b, nil
		}
	}
	gen := s.delGen.Load()
	data, err := s.read(ctx, c)
	if err != nil {
		return nil, err
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.Put(ctx, b)
		// A deletion or DropCache since the lookup may have come before
		// this Put reached the cache: take the block out again.
		if s.delGen.Load() != gen {
			s.cache.Delete(ctx, [][]byte{c.Hash()})
		}
	}
	return b, nil
}

// read reads a block from its pack. A pack that compaction deleted after
// the lookup is looked up again.
func (s *Store) read(ctx context.Context, c cid.Cid) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		e, err := s.index.Lookup(ctx, c.Hash())
		if errors.Is(err, blockstore.ErrNoBlock) {
			return nil, ipld.ErrNotFound{Cid: c}
		} else if err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
		if e.Length == 0 {
			return []byte{}, nil
		}
		data, err := s.readRange(ctx, e.Pack, e.Offset, e.Length)
		if isNoSuchKey(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("s3: get %s: %w", c, err)
		}
		return data, nil
	}
}

// readRange reads n bytes at off of an object.
func (s *Store) readRange(ctx context.Context, name string, off, n int64) ([]byte, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	data := make([]byte, n)
	if _, err := io.ReadFull(obj, data); err != nil {
		return nil, err
	}
	return data, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && minio.ToErrorResponse(err).Code == "NoSuchKey"
}

// Has tells whether the store holds the block c names. It asks the index,
// never the cache, which may hold a block another node deleted.
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := s.GetSize(ctx, c)
	if ipld.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// GetSize returns the size of the block c names, or an ipld.ErrNotFound.
func (s *Store) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if !c.Defined() {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	s.mu.Lock()
	if sl, ok := s.pending[string(c.Hash())]; ok {
		s.mu.Unlock()
		return sl.len, nil
	}
	s.mu.Unlock()
	e, err := s.index.Lookup(ctx, c.Hash())
	if errors.Is(err, blockstore.ErrNoBlock) {
		return -1, ipld.ErrNotFound{Cid: c}
	} else if err != nil {
		return -1, fmt.Errorf("s3: %w", err)
	}
	return int(e.Length), nil
}

// DeleteBlock removes a block. Removing a block that is not there is not
// an error. Its bytes stay in its pack until Compact.
func (s *Store) DeleteBlock(ctx context.Context, c cid.Cid) error {
	return s.delete(ctx, [][]byte{c.Hash()})
}

// DeleteStored deletes blocks that ForEachBlock found.
func (s *Store) DeleteStored(ctx context.Context, bs []blockstore.Stored) error {
	mhs := make([][]byte, len(bs))
	for i, b := range bs {
		mhs[i] = b.Cid.Hash()
	}
	return s.delete(ctx, mhs)
}

func (s *Store) delete(ctx context.Context, mhs [][]byte) error {
	if len(mhs) == 0 {
		return nil
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	for _, mh := range mhs {
		delete(s.pending, string(mh))
	}
	s.mu.Unlock()
	if s.cache != nil {
		s.fillMu.Lock()
		s.delGen.Add(1)
		s.cache.Delete(ctx, mhs)
		s.fillMu.Unlock()
	}
	if err := s.index.DeleteBlocks(ctx, mhs); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	return nil
}

// page is how many index entries a listing reads at a time.
const page = 1000

// ForEachBlock calls fn for every stored block: those not yet indexed,
// then those in the index.
func (s *Store) ForEachBlock(ctx context.Context, fn func(blockstore.Stored) error) error {
	s.mu.Lock()
	unindexed := make(map[string]int, len(s.pending))
	for mh, sl := range s.pending {
		unindexed[mh] = sl.len
	}
	s.mu.Unlock()
	for mh, n := range unindexed {
		if err := fn(blockstore.Stored{Cid: cid.NewCidV1(cid.Raw, []byte(mh)), Size: n}); err != nil {
			return err
		}
	}
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		es, err := s.index.Blocks(ctx, after, page)
		if err != nil {
			return fmt.Errorf("s3: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			if _, ok := unindexed[string(e.Hash)]; ok {
				continue
			}
			if err := fn(blockstore.Stored{Cid: cid.NewCidV1(cid.Raw, e.Hash), Size: int(e.Length)}); err != nil {
				return err
			}
		}
		after = es[len(es)-1].Hash
	}
}

// AllKeysChan lists every stored block as a CIDv1 with the raw codec.
func (s *Store) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	out := make(chan cid.Cid, 64)
	go func() {
		defer close(out)
		err := s.ForEachBlock(ctx, func(b blockstore.Stored) error {
			select {
			case out <- b.Cid:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("s3: listing blocks", "err", err)
		}
	}()
	return out, nil
}

// DiskUsage returns the bytes of the packs in the bucket, dead or live.
func (s *Store) DiskUsage(ctx context.Context) (uint64, error) {
	ps, err := s.index.Packs(ctx)
	if err != nil {
		return 0, fmt.Errorf("s3: %w", err)
	}
	var n uint64
	for _, p := range ps {
		n += uint64(p.Size)
	}
	return n, nil
}

// Close uploads what was written and closes the store. Calling it again
// does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := s.Sync(ctx)
	cancel()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	if s.cache != nil {
		close(s.fills)
		s.fillsWG.Wait()
		err = errors.Join(err, s.cache.Close())
	}
	return err
}

var _ boxobs.Blockstore = (*Store)(nil)

// Seq returns the index's position (see gc.Shared).
func (s *Store) Seq(ctx context.Context) (int64, error) {
	seq, err := s.index.Seq(ctx)
	if err != nil {
		return 0, fmt.Errorf("s3: %w", err)
	}
	return seq, nil
}

// Touch moves the index entries of the blocks past every position Seq
// returned, and returns those not stored. A block written here and not
// yet in the index counts as stored, if its pack's commit has not begun:
// its entry comes with a position drawn after this Touch. A pack being
// committed may have drawn its position before: holding commitMu waits
// for that commit to end, and its blocks are then touched in the index
// like any other.
func (s *Store) Touch(ctx context.Context, cs []cid.Cid) ([]cid.Cid, error) {
	byHash := make(map[string]cid.Cid, len(cs))
	hs := make([][]byte, 0, len(cs))
	s.commitMu.Lock()
	s.mu.Lock()
	for _, c := range cs {
		if _, ok := s.pending[string(c.Hash())]; ok {
			continue
		}
		byHash[string(c.Hash())] = c
		hs = append(hs, c.Hash())
	}
	s.mu.Unlock()
	s.commitMu.Unlock()
	if len(hs) == 0 {
		return nil, nil
	}
	missing, err := s.index.Touch(ctx, hs)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	out := make([]cid.Cid, len(missing))
	for i, h := range missing {
		out[i] = byHash[string(h)]
	}
	return out, nil
}

// DeleteUnchanged deletes blocks ForEachBlock listed unless written or
// touched after the position seq (see gc.Shared). Blocks written here and
// not yet indexed stay: their entries come with new positions.
func (s *Store) DeleteUnchanged(ctx context.Context, bs []blockstore.Stored, seq int64) (int, int64, error) {
	if len(bs) == 0 {
		return 0, 0, nil
	}
	mhs := make([][]byte, len(bs))
	for i, b := range bs {
		mhs[i] = b.Cid.Hash()
	}
	if s.cache != nil {
		s.fillMu.Lock()
		s.delGen.Add(1)
		s.cache.Delete(ctx, mhs)
		s.fillMu.Unlock()
	}
	n, size, err := s.index.DeleteUnchanged(ctx, mhs, seq)
	if err != nil {
		return 0, 0, fmt.Errorf("s3: %w", err)
	}
	return n, size, nil
}

// DropCache empties the local cache: another node's collection may have
// deleted blocks it holds.
func (s *Store) DropCache(ctx context.Context) error {
	if s.cache == nil {
		return nil
	}
	s.fillMu.Lock()
	s.delGen.Add(1)
	s.cache.Clear(ctx)
	s.fillMu.Unlock()
	return nil
}
