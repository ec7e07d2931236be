package tack

import (
	"context"
	"io"
	"mime/multipart"
)

// CARImporter stores the blocks of CARs that accounts send and makes a pin
// request of the account for each root (the upload package's Importer):
// POST /car and the pins page's form hand it their bodies.
type CARImporter interface {
	// Import reads a CAR from r, checks and stores its blocks, and returns
	// the requests it made or found, one for each root: pinned if its DAG
	// is whole, queued if not. A CAR that breaks a rule is refused with an
	// *Error whose code says which (EINVALID, EQUOTA, or the body's own
	// ETOOLARGE, ETIMEOUT), and leaves no request.
	Import(ctx context.Context, acct *Account, r io.Reader, opts UploadOptions) ([]*PinRequest, error)
}

// UploadOptions are what an upload says of the requests it makes: the
// name, meta and origins of their Pin, checked as POST /pins checks them.
type UploadOptions struct {
	Name    string
	Meta    map[string]string
	Origins []string
}

// FileImporter makes a UnixFS DAG of the files that accounts send in a
// multipart/form-data body (a browser's file or folder upload, curl -F),
// stores its blocks under the same rules, room and undo as a CAR's, and
// makes a pin request of the account for its root (the unixfsimport
// package's Importer): POST /files and the pins page's file form hand it
// their forms.
type FileImporter interface {
	// ImportFiles reads the files of the form's remaining parts, each
	// named by its relative path, and returns the request it made or
	// found for the DAG's root. Bad paths and forms are refused with
	// EINVALID, an upload past the account's room with EQUOTA; a refused
	// upload leaves no request.
	ImportFiles(ctx context.Context, acct *Account, form FormParts, opts UploadOptions) ([]*PinRequest, error)
}

// FormParts are the parts of a multipart form, one after the other, as
// *multipart.Reader gives them: NextPart returns io.EOF after the last.
type FormParts interface {
	NextPart() (*multipart.Part, error)
}
