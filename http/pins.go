package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
)

// handleListPins serves GET /pins.
func (s *Server) handleListPins(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	f, err := ParseListQuery(r.URL.Query(), acct.ID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	reqs, count, err := s.Store.FindPins(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.queuePositions(r, reqs...)
	// About 400 bytes a request, in a buffer the size of most pages.
	buf, _ := s.pages.Get().(*[]byte)
	if buf == nil || cap(*buf) < 64+512*len(reqs) {
		buf = new(make([]byte, 0, 64+512*len(reqs)))
	}
	b := appendPinPageJSON((*buf)[:0], count, reqs, s.delegates())
	writeJSONBody(w, http.StatusOK, append(b, '\n'))
	if cap(b) <= maxPooledPage {
		*buf = b
		s.pages.Put(buf)
	}
}

// maxPooledPage bounds the buffers of pages kept for the next: a page of
// long names and meta is not kept.
const maxPooledPage = 1 << 20

// handleCreatePin serves POST /pins.
func (s *Server) handleCreatePin(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	req, err := s.readPinRequest(w, r, acct)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.createPin(r, req); err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, pinStatus(req, s.delegates()))
}

// createPin stores a new request, as POST /pins and the pins page's Pin a
// CID form do, and wakes the pinner if it waits in the queue.
func (s *Server) createPin(r *http.Request, req *tack.PinRequest) error {
	if err := s.Store.CreatePin(r.Context(), req); err != nil {
		return err
	}
	s.stored(r, req)
	return nil
}

// handleGetPin serves GET /pins/{requestid}.
func (s *Server) handleGetPin(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	id, err := requestID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	req, err := s.Store.FindPinByID(r.Context(), acct.ID, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.queuePositions(r, req)
	s.writeJSON(w, r, http.StatusOK, pinStatus(req, s.delegates()))
}

// handleReplacePin serves POST /pins/{requestid}: the new request gets a new
// requestid, and the old one is gone.
func (s *Server) handleReplacePin(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	oldID, err := requestID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	req, err := s.readPinRequest(w, r, acct)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.replacePin(r, acct, oldID, req); err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, pinStatus(req, s.delegates()))
}

// replacePin stores req in place of the account's request oldID, as
// POST /pins/{requestid} and the pins page's Replace form do, and tells
// the pinner.
func (s *Server) replacePin(r *http.Request, acct *tack.Account, oldID string, req *tack.PinRequest) error {
	if err := s.Store.ReplacePin(r.Context(), acct.ID, oldID, req); err != nil {
		return err
	}
	if s.Notifier != nil {
		s.Notifier.Removed(oldID)
	}
	s.stored(r, req)
	return nil
}

// stored wakes the pinner if a newly stored request waits in the queue,
// and finds its place there.
func (s *Server) stored(r *http.Request, req *tack.PinRequest) {
	if req.Status == tack.StatusQueued && s.Notifier != nil {
		s.Notifier.Queued()
	}
	if req.Position == 0 {
		// The store did not set it with the request (see CreatePin).
		s.queuePositions(r, req)
	}
}

// handleDeletePin serves DELETE /pins/{requestid}: 202 and no body.
func (s *Server) handleDeletePin(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	id, err := requestID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.deletePin(r, acct, id); err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
}

// deletePin deletes the account's request, as DELETE /pins/{requestid}
// and the pins page's Remove button do, and tells the pinner.
func (s *Server) deletePin(r *http.Request, acct *tack.Account, id string) error {
	if err := s.Store.DeletePin(r.Context(), acct.ID, id); err != nil {
		return err
	}
	if s.Notifier != nil {
		s.Notifier.Removed(id)
	}
	return nil
}

// readPinRequest reads and checks the Pin in the body of r and returns a new
// queued request of the account with a random ID.
func (s *Server) readPinRequest(w http.ResponseWriter, r *http.Request, acct *tack.Account) (*tack.PinRequest, error) {
	// The Content-Type is not checked: a JSON body is accepted whatever
	// the client called it.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, tooLarge()
		}
		if tack.ErrorCode(err) == tack.ETIMEOUT {
			return nil, err
		}
		return nil, tack.Errorf(tack.EINVALID, "could not read the request body")
	}
	pin, c, err := ParsePin(body)
	if err != nil {
		return nil, err
	}
	return newPinRequest(acct, pin, c), nil
}

// newPinRequest returns a new queued request of the account for a checked
// pin, with a random ID.
func newPinRequest(acct *tack.Account, pin tack.Pin, c cid.Cid) *tack.PinRequest {
	return &tack.PinRequest{
		ID:        uuid.NewString(),
		AccountID: acct.ID,
		Pin:       pin,
		Key:       tack.ContentKey(c),
		Status:    tack.StatusQueued,
	}
}

// requestID returns the {requestid} of the path. tack's requestids are
// UUIDs in canonical form; anything else cannot exist, so it is a 404
// without asking the store.
func requestID(r *http.Request) (string, error) {
	id := r.PathValue("requestid")
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return "", tack.Errorf(tack.ENOTFOUND, "no pin request with requestid %q", clip(id))
	}
	return id, nil
}

// delegates returns the node's delegates, at most 20 and never nil.
func (s *Server) delegates() []string {
	var d []string
	if s.Delegates != nil {
		d = s.Delegates()
	}
	if len(d) > 20 {
		d = d[:20]
	}
	if d == nil {
		d = []string{}
	}
	return d
}

// queuePositions fills in where queued requests stand in the queue, for
// their status_details. Without it they still say they are queued, so a
// failure is logged rather than answered.
func (s *Server) queuePositions(r *http.Request, reqs ...*tack.PinRequest) {
	if err := s.QueuePositions(r.Context(), reqs); err != nil && r.Context().Err() == nil {
		s.logger().Error("finding queue positions", "err", err)
	}
}

// QueuePositions fills in, for the status_details of the queued requests
// among reqs, where they stand in the queue (the store's QueuePositions)
// and why none is fetched now, if the node says so (QueueNote). The web
// pages use it too. Without a queued request among reqs it does nothing:
// a page of pinned requests, the default listing, then neither opens a
// read transaction nor takes the pinner's lock for QueueNote, which its
// fetches hold often.
func (s *Server) QueuePositions(ctx context.Context, reqs []*tack.PinRequest) error {
	if !slices.ContainsFunc(reqs, func(r *tack.PinRequest) bool { return r.Status == tack.StatusQueued }) {
		return nil
	}
	if s.QueueNote != nil {
		if why := s.QueueNote(); why != "" {
			for _, req := range reqs {
				if req.Status == tack.StatusQueued {
					req.Waiting = why
				}
			}
		}
	}
	return s.Store.QueuePositions(ctx, reqs)
}
