package http

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/tack-ipfs/tack"
)

// handleUploadCAR serves POST /dashboard/car, the pins page's Upload a
// CAR form: a multipart form whose parts come in the page's order, csrf,
// then name, then car (the file). The file is streamed into the same
// upload as POST /car, under the same limits and slots.
func (web *Web) handleUploadCAR(w http.ResponseWriter, r *http.Request) {
	web.handleUploadForm(w, r, uploadForm{
		field:   "car",
		missing: "The form holds no CAR file.",
		signIn:  "You are signed out: sign in again, then upload the CAR.",
		upload: func(ctx context.Context, acct *tack.Account, part *multipart.Part, _ *multipart.Reader, body *uploadReader, opts tack.UploadOptions) ([]*tack.PinRequest, error) {
			return web.Uploads.importCAR(ctx, acct, formFile{part, body}, body, opts)
		},
	})
}

// uploadForm is what one of the pins page's upload forms posts: its file
// parts' name, and what uploads them.
type uploadForm struct {
	field   string // the file parts' form name
	missing string // the error of a form without them
	signIn  string // the error of a signed-out form
	// upload reads the form's files, the first of them part, the rest (if
	// the form has more) from mr.
	upload func(ctx context.Context, acct *tack.Account, part *multipart.Part, mr *multipart.Reader, body *uploadReader, opts tack.UploadOptions) ([]*tack.PinRequest, error)
}

// handleUploadForm serves an upload form of the pins page: a multipart
// form whose parts come in the page's order, csrf, then name, then the
// files. The page's script sends it with XMLHttpRequest (for its progress
// bar) and Accept: application/json, and gets the API's answers: the
// requests, or an error body. Without the script the browser gets the
// pins page back, or an error page.
func (web *Web) handleUploadForm(w http.ResponseWriter, r *http.Request, form uploadForm) {
	s := web.Uploads
	asJSON := r.Header.Get("Accept") == "application/json"
	fail := func(acct *tack.Account, err error) {
		w.Header().Set("Connection", "close") // the rest of the file is not read
		s.uploadFailed(w, err)
		if asJSON {
			s.Error(w, r, err)
		} else {
			web.fail(w, r, acct, err)
		}
	}
	if web.crossOrigin.Check(r) != nil {
		fail(nil, tack.Errorf(tack.EFORBIDDEN, "This form was sent from another site."))
		return
	}
	acct, err := web.sessionAccount(r.Context(), r)
	if err != nil {
		fail(nil, err)
		return
	} else if acct == nil {
		fail(nil, tack.Errorf(tack.EUNAUTHORIZED, "%s", form.signIn))
		return
	}
	if acct.Blocked || acct.Access != tack.AccessApproved {
		fail(acct, s.forbidden(acct))
		return
	}
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		fail(acct, tack.Errorf(tack.EINVALID, "The upload must be a multipart/form-data form."))
		return
	}
	body, err := s.uploadBody(w, r)
	if err != nil {
		fail(acct, err)
		return
	}
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	mr := multipart.NewReader(body, params["boundary"])

	var opts tack.UploadOptions
	csrf := false
	for {
		part, err := mr.NextPart()
		if err != nil {
			if body.err != nil {
				err = body.err
			} else if errors.Is(err, io.EOF) {
				err = tack.Errorf(tack.EINVALID, "%s", form.missing)
			} else {
				err = tack.Errorf(tack.EINVALID, "The form could not be read: %v.", err)
			}
			fail(acct, err)
			return
		}
		switch name := part.FormName(); {
		case name == "csrf" || name == "name":
			v, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				fail(acct, tack.Errorf(tack.EINVALID, "The form could not be read."))
				return
			}
			if name == "csrf" {
				csrf = web.csrfMatches(r, string(v))
				continue
			}
			if err := checkText("name", string(v), tack.MaxNameBytes); err != nil {
				fail(acct, err)
				return
			}
			opts.Name = string(v)
		case name == form.field && csrf:
			reqs, err := form.upload(r.Context(), acct, part, mr, body, opts)
			if err != nil {
				fail(acct, err)
				return
			}
			if asJSON {
				s.uploaded(w, r, reqs)
			} else {
				http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
			}
			return
		case name == form.field:
			fail(acct, tack.Errorf(tack.EFORBIDDEN, "This form has expired or was sent from another site. Reload the page and try again."))
			return
		}
	}
}
