package http

import (
	"context"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/tack-ipfs/tack"
)

// handleUploadFiles serves POST /files: the body is a multipart/form-data
// form of files, each a part named "file" whose filename is its path in
// the upload (curl -F 'file=@a.txt;filename=site/a.txt', or a browser's
// folder upload). They become one UnixFS DAG, and its root a pin request
// of the account, with ?name=, ?meta= and ?origin= as POST /car takes
// them. The answer is POST /car's: 200 with the request's PinStatus.
func (s *Server) handleUploadFiles(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	boundary, err := formBoundary(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	opts, err := parseCAROptions(r.URL.Query())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	body, err := s.uploadBody(w, r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	reqs, err := s.importFiles(r.Context(), acct, multipart.NewReader(body, boundary), body, opts)
	if err != nil {
		w.Header().Set("Connection", "close") // the rest of the body is not read
		s.uploadFailed(w, err)
		s.Error(w, r, err)
		return
	}
	s.uploaded(w, r, reqs)
}

// formBoundary returns the boundary of a multipart/form-data request, or
// EINVALID.
func formBoundary(r *http.Request) (string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", tack.Errorf(tack.EINVALID, "Content-Type is %q: send the files as multipart/form-data, one part named \"file\" for each, its path as its filename", clip(r.Header.Get("Content-Type")))
	}
	return params["boundary"], nil
}

// importFiles hands the files of form, read from body, to the
// FileImporter (see importUpload). The body's own failure (too large, too
// slow, cut off) and an empty body are reported as such, rather than as
// what they did to the form.
func (s *Server) importFiles(ctx context.Context, acct *tack.Account, form tack.FormParts, body *uploadReader, opts tack.UploadOptions) ([]*tack.PinRequest, error) {
	if s.Files == nil {
		return nil, tack.Errorf(tack.EUNAVAILABLE, "this server does not take file uploads")
	}
	return s.importUpload(acct, body, func() ([]*tack.PinRequest, error) {
		reqs, err := s.Files.ImportFiles(ctx, acct, form, opts)
		switch {
		case err == nil:
		case body.Err() != nil:
			err = body.Err()
		case body.eof && body.n == 0:
			err = tack.Errorf(tack.EINVALID, "the body is empty: send the files as multipart/form-data")
		}
		return reqs, err
	})
}
