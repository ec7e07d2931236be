package unixfsimport

import (
	"context"
	"strings"
	"unicode/utf8"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/upload"
)

// builder builds the DAG of an upload's files as they arrive: each file's
// DAG is stored at once and linked into its folder, whose entries wait,
// as links, for the upload's end.
type builder struct {
	cids    cid.Builder
	fileDAG *dagService // files' blocks
	dirDAG  *dagService // folders' blocks
	top     *folder     // what the upload holds at its top
	files   int
}

// folder is a folder of the upload, its entries linked as they come.
type folder struct {
	dir uio.Directory
	// entries are the folder's names: a folder's, or nil for a file's.
	entries map[string]*folder
}

func newBuilder(ctx context.Context, sink *upload.Sink) (*builder, error) {
	cids, err := cidBuilder()
	if err != nil {
		return nil, err
	}
	b := &builder{cids: cids, fileDAG: &dagService{sink: sink}, dirDAG: &dagService{sink: sink}}
	if b.top, err = b.newFolder(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *builder) newFolder() (*folder, error) {
	dir, err := uio.NewDirectory(b.dirDAG, dirOptions(b.cids)...)
	if err != nil {
		return nil, err
	}
	return &folder{dir: dir, entries: map[string]*folder{}}, nil
}

// place returns the folder of the file at names, making the folders on
// its way, or EINVALID if the upload holds the file already, or a file
// where the path needs a folder.
func (b *builder) place(names []string) (*folder, error) {
	f := b.top
	for i, name := range names[:len(names)-1] {
		sub, ok := f.entries[name]
		if ok && sub == nil {
			return nil, tack.Errorf(tack.EINVALID, "the upload holds %q both as a file and as a folder", clip(joinPath(names[:i+1])))
		}
		if !ok {
			var err error
			if sub, err = b.newFolder(); err != nil {
				return nil, err
			}
			f.entries[name] = sub
		}
		f = sub
	}
	name := names[len(names)-1]
	if sub, ok := f.entries[name]; ok {
		if sub != nil {
			return nil, tack.Errorf(tack.EINVALID, "the upload holds %q both as a file and as a folder", clip(joinPath(names)))
		}
		return nil, tack.Errorf(tack.EINVALID, "the upload holds the file %q twice", clip(joinPath(names)))
	}
	f.entries[name] = nil
	return f, nil
}

// link adds the stored node nd to folder f under name. A HAMT shard
// stores the nodes it is given again: the dirDAG skips that.
func (b *builder) link(ctx context.Context, f *folder, name string, nd ipld.Node) error {
	b.dirDAG.skip = nd.Cid()
	defer func() { b.dirDAG.skip = cid.Undef }()
	if err := f.dir.AddChild(ctx, name, nd); err != nil {
		return readError("", err)
	}
	return nil
}

// finish stores the folders, deepest first, and returns the upload's root
// and its name: the one file or folder at its top, or a folder that holds
// them all (unnamed).
func (b *builder) finish(ctx context.Context) (cid.Cid, string, error) {
	if len(b.top.entries) == 0 {
		return cid.Undef, "", tack.Errorf(tack.EINVALID, "the form holds no files: send each file as a part named %q with its path as its filename", FormField)
	}
	if err := b.closeFolders(ctx, b.top); err != nil {
		return cid.Undef, "", err
	}
	if len(b.top.entries) == 1 {
		links, err := b.top.dir.Links(ctx)
		if err != nil {
			return cid.Undef, "", err
		}
		return links[0].Cid, links[0].Name, nil
	}
	nd, err := b.store(ctx, b.top)
	if err != nil {
		return cid.Undef, "", err
	}
	return nd.Cid(), "", nil
}

// closeFolders stores f's folders and links them into f.
func (b *builder) closeFolders(ctx context.Context, f *folder) error {
	for name, sub := range f.entries {
		if sub == nil {
			continue
		}
		if err := b.closeFolders(ctx, sub); err != nil {
			return err
		}
		nd, err := b.store(ctx, sub)
		if err != nil {
			return err
		}
		if err := b.link(ctx, f, name, nd); err != nil {
			return err
		}
	}
	return nil
}

// store stores the block of folder f (its shards' are stored as the
// shards are made) and returns it.
func (b *builder) store(ctx context.Context, f *folder) (ipld.Node, error) {
	nd, err := f.dir.GetNode()
	if err != nil {
		return nil, err
	}
	if err := b.dirDAG.Add(ctx, nd); err != nil {
		return nil, err
	}
	return nd, nil
}

// splitPath checks a file's path in the upload and returns its names.
func splitPath(path string) ([]string, error) {
	refuse := func(why string) error {
		return tack.Errorf(tack.EINVALID, "the file %q is refused: %s", clip(path), why)
	}
	switch {
	case len(path) > MaxPathBytes:
		return nil, refuse("its path is longer than 4096 bytes")
	case !utf8.ValidString(path):
		return nil, refuse("its path is not valid UTF-8")
	case strings.HasPrefix(path, "/"):
		return nil, refuse("its path is absolute; give paths relative to the upload, as folder/file")
	case strings.Contains(path, `\`):
		return nil, refuse(`its path holds a backslash; separate folders with "/"`)
	}
	names := strings.Split(path, "/")
	if len(names) > MaxDepth {
		return nil, refuse("its path is more than 64 names deep")
	}
	for _, n := range names {
		switch {
		case n == "":
			return nil, refuse("its path holds an empty name (a trailing or doubled /)")
		case n == "." || n == "..":
			return nil, refuse(`its path holds "." or ".."; give paths within the upload, as folder/file`)
		case len(n) > MaxNameBytes:
			return nil, refuse("a name in its path is longer than 255 bytes")
		case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return nil, refuse("its path holds a control character")
		}
	}
	return names, nil
}

func joinPath(names []string) string { return strings.Join(names, "/") }

// clip shortens what a client sent to quote it in an error.
func clip(s string) string {
	const most = 100
	if len(s) <= most {
		return s
	}
	for i := most; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:most]
}
