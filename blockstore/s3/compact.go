package s3

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tack-ipfs/tack/blockstore"
)

// orphanAge is how old a pack object that the index does not know must be
// before Compact deletes it: an upload whose commit failed, or a
// compaction that stopped half way. A pack being stored is in the index
// well within it.
const orphanAge = time.Hour

// Compact gives back the space of deleted blocks:
//
//   - a pack with no live block is forgotten, then its object deleted;
//   - packs whose bytes are mostly dead have their live blocks copied into
//     new packs, which are uploaded and recorded as moves (a block deleted
//     or written again meanwhile is left as it is: see
//     blockstore.PackIndex.AddPack), then the old packs are forgotten and
//     deleted once nothing points into them;
//   - pack objects the index does not know, older than an hour, are
//     deleted.
//
// A reader that looked a block up in a pack just deleted looks it up
// again (see read).
func (s *Store) Compact(ctx context.Context) error {
	packs, err := s.index.Packs(ctx)
	if err != nil {
		return fmt.Errorf("s3: compact: %w", err)
	}
	known := make(map[string]bool, len(packs))
	var rewrite []blockstore.PackUsage
	for _, p := range packs {
		known[p.Name] = true
		switch {
		case p.LiveBlocks == 0:
			if err := s.deletePack(ctx, p.Name); err != nil {
				return err
			}
		case 2*p.LiveBytes < p.Size:
			rewrite = append(rewrite, p)
		}
	}
	if err := s.rewrite(ctx, rewrite); err != nil {
		return err
	}
	return s.deleteOrphans(ctx, known)
}

// deletePack forgets a pack and deletes its object, if no entry points
// into it.
func (s *Store) deletePack(ctx context.Context, name string) error {
	gone, err := s.index.DeletePack(ctx, name)
	if err != nil {
		return fmt.Errorf("s3: compact: %w", err)
	}
	if !gone {
		return nil
	}
	return s.removeObject(ctx, name)
}

// removeObject deletes an object, within the write timeout.
func (s *Store) removeObject(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3: compact: delete %s: %w", name, timedOut(ctx, err, s.writeTimeout))
	}
	return nil
}

// rewrite copies the live blocks of packs into new packs, then deletes
// the old ones.
func (s *Store) rewrite(ctx context.Context, packs []blockstore.PackUsage) error {
	var (
		p     = s.newPack()
		moves []blockstore.PackMove
		from  []string
	)
	flush := func() error {
		if len(from) == 0 {
			return nil
		}
		if len(p.buf) > 0 {
			if err := s.putObject(ctx, p.name, p.buf); err != nil {
				return fmt.Errorf("s3: compact: %w", err)
			}
			if s.beforeMove != nil {
				s.beforeMove()
			}
			if err := s.index.AddPack(ctx, blockstore.Pack{Name: p.name, Size: int64(len(p.buf))}, moves); err != nil {
				return fmt.Errorf("s3: compact: %w", err)
			}
		}
		for _, name := range from {
			if err := s.deletePack(ctx, name); err != nil {
				return err
			}
		}
		p, moves, from = s.newPack(), nil, nil
		return nil
	}
	for _, u := range packs {
		es, err := s.index.PackBlocks(ctx, u.Name)
		if err != nil {
			return fmt.Errorf("s3: compact: %w", err)
		}
		data, err := s.readAll(ctx, u.Name)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.Offset+e.Length > int64(len(data)) {
				return fmt.Errorf("s3: compact: block at %d+%d past the end of %s (%d bytes)", e.Offset, e.Length, u.Name, len(data))
			}
			moves = append(moves, blockstore.PackMove{
				PackEntry: blockstore.PackEntry{Hash: e.Hash, Offset: int64(len(p.buf)), Length: e.Length},
				From:      u.Name,
			})
			p.buf = append(p.buf, data[e.Offset:e.Offset+e.Length]...)
		}
		from = append(from, u.Name)
		if int64(len(p.buf)) >= s.packSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// readAll reads a whole object, within the write timeout (it is as large
// as the packs uploaded).
func (s *Store) readAll(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3: compact: get %s: %w", name, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("s3: compact: get %s: %w", name, timedOut(ctx, err, s.writeTimeout))
	}
	return data, nil
}

// deleteOrphans deletes pack objects older than orphanAge that the index
// does not know.
func (s *Store) deleteOrphans(ctx context.Context, known map[string]bool) error {
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "packs/", Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("s3: compact: list: %w", obj.Err)
		}
		if known[obj.Key] || !strings.HasSuffix(obj.Key, ".pack") || time.Since(obj.LastModified) < orphanAge {
			continue
		}
		s.log.Info("s3: deleting a pack the index does not know", "pack", obj.Key, "modified", obj.LastModified)
		if err := s.removeObject(ctx, obj.Key); err != nil {
			return err
		}
	}
	return nil
}
