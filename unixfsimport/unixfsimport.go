// Package unixfsimport turns the files and folders that accounts upload
// (a browser's file or folder form, curl -F) into a UnixFS DAG with boxo's
// importer, and stores it through an upload.Importer: the same session,
// checks, room and undo as a CAR upload, and a pin request for the root.
// It is the library behind POST /files and the pins page's file form;
// http only admits the request and maps the errors to statuses.
//
// The DAG is streamed: each file is chunked and its blocks stored as its
// part of the form arrives, and a folder keeps only its entries' links
// until the form ends. Memory stays a few MiB whatever the size of the
// files.
//
// # Settings, and the Kubo command that gives the same CID
//
// The settings are those of IPIP-499's unixfs-v1-2025 profile: CIDv1,
// sha2-256, raw leaves, chunks of 1 MiB, at most 1024 links per file
// node, the balanced layout, no mode or mtime, and folders that become
// HAMT shards (fanout 256) past 256 KiB, by the size of their block.
//
//	ipfs add -r --cid-version=1 --raw-leaves --chunker=size-1048576 --max-file-links=1024 PATH
//
// gives the same CID for a file or a folder, on a Kubo with any config,
// as long as no folder's block passes 256 KiB (about 3,000 entries); a
// Kubo with `ipfs config profile apply unixfs-v1-2025` gives it for any
// folder with a plain `ipfs add -r PATH`.
//
// What the root is: an upload of one file, or of one folder (its files all
// under one top folder, as a browser's folder upload sends them), is that
// file or that folder, as `ipfs add` of it. An upload of several files or
// folders side by side is a folder that holds them, as `ipfs add -w` of
// them (--wrap-with-directory).
package unixfsimport

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/upload"
)

// Limits of an upload's files.
const (
	// MaxFiles is the most files one upload may hold: a folder keeps its
	// entries' links in memory until the upload ends.
	MaxFiles = 100_000
	// MaxDepth is the most names in one file's path (folders and file).
	MaxDepth = 64
	// MaxNameBytes is the longest name of a file or folder, in bytes.
	MaxNameBytes = 255
	// MaxPathBytes is the longest path of a file, in bytes.
	MaxPathBytes = 4096
)

// FormField is the name of the form's file parts: each part named so is a
// file, its filename its path in the upload.
const FormField = "file"

// batchBytes caps the blocks of a file waiting to be stored at once
// (ipld.Batch divides it among its commits in flight).
const batchBytes = 8 << 20

// Importer imports the files of multipart forms. Set its field, then call
// ImportFiles from any number of goroutines.
type Importer struct {
	// Uploads stores the DAGs' blocks and makes their requests. Required.
	Uploads *upload.Importer
}

var _ tack.FileImporter = (*Importer)(nil)

// profile is the UnixFS settings (see the package's doc).
var profile = uio.UnixFS_v1_2025

// cidBuilder makes the CIDs of the DAG's dag-pb nodes.
func cidBuilder() (cid.Builder, error) {
	p, err := merkledag.PrefixForCidVersion(profile.CIDVersion)
	if err != nil {
		return nil, err
	}
	p.MhType = profile.MhType
	p.MhLength = -1
	return p, nil
}

// ImportFiles reads the form's parts, each a file named FormField whose
// filename is its path in the upload ("photos/2024/a.jpg", as a browser's
// folder upload names them), builds their UnixFS DAG as they arrive and
// stores it through Uploads, then pins its root (see the package's doc)
// with opts; a name left empty becomes the root file's or folder's.
//
// A part with an empty filename and no data (a file input left empty) is
// skipped. Refusals are EINVALID: a part that is not a file, a path that
// is absolute, holds "..", "." or an empty name, is too deep or too long,
// or names a file twice (or a file where a folder is); a form that cannot
// be read or holds no file; more than MaxFiles files. An upload past the
// account's room is EQUOTA.
func (im *Importer) ImportFiles(ctx context.Context, acct *tack.Account, form tack.FormParts, opts tack.UploadOptions) ([]*tack.PinRequest, error) {
	return im.Uploads.ImportDAG(ctx, acct, func(ctx context.Context, sink *upload.Sink) (cid.Cid, tack.UploadOptions, error) {
		b, err := newBuilder(ctx, sink)
		if err != nil {
			return cid.Undef, opts, err
		}
		for {
			part, err := form.NextPart()
			if err == io.EOF { // the form's closing boundary, and only it
				break
			}
			if err != nil {
				return cid.Undef, opts, readError("", err)
			}
			if err := b.part(ctx, part); err != nil {
				return cid.Undef, opts, err
			}
		}
		root, name, err := b.finish(ctx)
		if err != nil {
			return cid.Undef, opts, err
		}
		if opts.Name == "" {
			opts.Name = name
		}
		return root, opts, nil
	})
}

// part adds the file in one part of the form.
func (b *builder) part(ctx context.Context, part *multipart.Part) error {
	defer part.Close()
	// Part.FileName keeps only the path's last name: read the header.
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return tack.Errorf(tack.EINVALID, "a part of the form has no valid Content-Disposition: send each file as a part named %q with its path as its filename", FormField)
	}
	if name := params["name"]; name != FormField {
		return tack.Errorf(tack.EINVALID, "the form's part %q is not a file: send each file as a part named %q with its path as its filename", clip(name), FormField)
	}
	path, ok := params["filename"]
	if !ok || path == "" {
		// What a browser sends for a file input left empty.
		var one [1]byte
		if _, err := io.ReadFull(part, one[:]); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return readError("", err)
		}
		return tack.Errorf(tack.EINVALID, "a file of the form has no filename: give each file its path as its filename")
	}
	names, err := splitPath(path)
	if err != nil {
		return err
	}
	return b.addFile(ctx, names, part)
}

// addFile chunks the file in r into its DAG, stores it and adds it to
// its folder.
func (b *builder) addFile(ctx context.Context, names []string, r io.Reader) error {
	parent, err := b.place(names)
	if err != nil {
		return err
	}
	if b.files++; b.files > MaxFiles {
		return tack.Errorf(tack.EINVALID, "the upload holds more than %d files, the most tack takes in one upload; upload the folders one by one", MaxFiles)
	}
	buf := ipld.NewBufferedDAG(ctx, b.fileDAG, ipld.MaxSizeBatchOption(batchBytes))
	params := helpers.DagBuilderParams{
		Dagserv:    buf,
		RawLeaves:  profile.RawLeaves,
		Maxlinks:   profile.FileDAGWidth,
		CidBuilder: b.cids,
	}
	// The chunker takes a read cut short for the file's end: the file
	// keeps its own read errors.
	fr := &fileReader{r: r}
	db, err := params.New(chunker.NewSizeSplitter(fr, profile.ChunkSize))
	if err != nil {
		return err
	}
	nd, err := balanced.Layout(db)
	if err == nil {
		err = fr.err
	}
	if err != nil {
		return readError(joinPath(names), err)
	}
	if err := buf.Commit(); err != nil {
		return readError(joinPath(names), err)
	}
	return b.link(ctx, parent, names[len(names)-1], nd)
}

// fileReader is a file's part of the form: it keeps the error that ended
// it, if not its end.
type fileReader struct {
	r   io.Reader
	err error
}

func (f *fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// readError is the error of a form that could not be read at the file
// path ("" before any): tack's own errors (the body's, the account's room,
// the blockstore's) as they are, and any other as a malformed form.
func readError(path string, err error) error {
	var te *tack.Error
	if errors.As(err, &te) || errors.As(err, new(tack.BlockstoreError)) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if path == "" {
		return tack.Errorf(tack.EINVALID, "the form cannot be read: %v", err)
	}
	return tack.Errorf(tack.EINVALID, "the form cannot be read at the file %q: %v", clip(path), err)
}

// dirOptions are the options of the DAG's folders.
func dirOptions(builder cid.Builder) []uio.DirectoryOption {
	return []uio.DirectoryOption{
		uio.WithCidBuilder(builder),
		uio.WithMaxHAMTFanout(profile.HAMTShardWidth),
		uio.WithSizeEstimationMode(profile.HAMTSizeEstimation),
		func(d uio.Directory) { d.SetHAMTShardingSize(profile.HAMTShardingSize) },
	}
}
