package http

import (
	"context"
	"mime/multipart"
	"net/http"

	"github.com/tack-ipfs/tack"
)

// handleUploadFiles serves POST /dashboard/files, the pins page's Upload
// files form: csrf, then name, then the files (a folder's, or files
// picked one by one), each a part named "file" whose filename is its path.
// They become one UnixFS DAG through the same import as POST /files,
// under the same limits and slots.
func (web *Web) handleUploadFiles(w http.ResponseWriter, r *http.Request) {
	web.handleUploadForm(w, r, uploadForm{
		field:   "file",
		missing: "The form holds no files: pick a folder or files.",
		signIn:  "You are signed out: sign in again, then upload the files.",
		upload: func(ctx context.Context, acct *tack.Account, part *multipart.Part, mr *multipart.Reader, body *uploadReader, opts tack.UploadOptions) ([]*tack.PinRequest, error) {
			return web.Uploads.importFiles(ctx, acct, &heldParts{first: part, rest: mr}, body, opts)
		},
	})
}

// heldParts are a form's parts from one read already.
type heldParts struct {
	first *multipart.Part
	rest  *multipart.Reader
}

func (h *heldParts) NextPart() (*multipart.Part, error) {
	if p := h.first; p != nil {
		h.first = nil
		return p, nil
	}
	return h.rest.NextPart()
}
