package http

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/ipfs/go-cid"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/tack-ipfs/tack"
)

// Pin is the Pinning Service API's Pin object, as sent and echoed back.
type Pin struct {
	CID     string            `json:"cid"`
	Name    string            `json:"name,omitempty"`
	Origins []string          `json:"origins,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// PinStatus is the Pinning Service API's PinStatus object.
type PinStatus struct {
	RequestID string            `json:"requestid"`
	Status    tack.Status       `json:"status"`
	Created   string            `json:"created"` // UTC, 'Z', microseconds
	Pin       Pin               `json:"pin"`
	Delegates []string          `json:"delegates"`
	Info      map[string]string `json:"info"`
}

// PinResults is the Pinning Service API's answer to GET /pins.
type PinResults struct {
	Count   int         `json:"count"`   // all matches, not just this page
	Results []PinStatus `json:"results"` // never null
}

// ParsePin parses the body of POST /pins and POST /pins/{requestid}: a
// JSON Pin object. It returns the pin, with the cid as the client wrote it,
// and the parsed CID. Unknown fields are ignored, and so are null name,
// origins and meta. It returns ETOOLARGE for a body over MaxBodyBytes, and
// EINVALID for anything else wrong:
//   - not a JSON object, or a field of the wrong type;
//   - cid missing, or refused by tack.ParseCID (not a CID, an unsupported
//     codec, an IPNS name);
//   - name over 255 bytes or holding a NUL;
//   - origins over tack.MaxOrigins (20), repeated, or not multiaddrs: the
//     spec sets no bound, and each origin is an address tack dials;
//   - meta over 1000 keys, a value that is not a string, or a key or value
//     over its size limit.
func ParsePin(body []byte) (tack.Pin, cid.Cid, error) {
	if len(body) > MaxBodyBytes {
		return tack.Pin{}, cid.Undef, tooLarge()
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "the request body must be a JSON Pin object, such as {\"cid\":\"bafy…\"}")
	}
	var in pinFields
	if err := json.Unmarshal(body, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "invalid %s: must be %s", te.Field, wantType(te.Field))
		}
		return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "the request body must be a JSON Pin object, such as {\"cid\":\"bafy…\"}")
	}
	return in.check()
}

// pinFields are the fields of a Pin as a client sent them, in a JSON body
// (ParsePin) or a form of the pins page: nil where absent.
type pinFields struct {
	CID     *string         `json:"cid"`
	Name    *string         `json:"name"`
	Origins []*string       `json:"origins"`
	Meta    json.RawMessage `json:"meta"`
}

// check returns the pin of the fields, and its parsed CID, or the error
// that ParsePin documents.
func (in pinFields) check() (tack.Pin, cid.Cid, error) {
	if in.CID == nil {
		return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "cid is required")
	}
	c, err := tack.ParseCID(*in.CID)
	if err != nil {
		return tack.Pin{}, cid.Undef, err
	}
	p := tack.Pin{CID: *in.CID}

	if in.Name != nil {
		if err := checkText("name", *in.Name, tack.MaxNameBytes); err != nil {
			return tack.Pin{}, cid.Undef, err
		}
		p.Name = *in.Name
	}

	if len(in.Origins) > tack.MaxOrigins {
		return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "invalid origins: %d given, at most %d allowed", len(in.Origins), tack.MaxOrigins)
	}
	seen := map[string]bool{}
	for _, o := range in.Origins {
		if o == nil {
			return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "invalid origins: null is not a multiaddr")
		}
		if _, err := ma.NewMultiaddr(*o); err != nil {
			return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "invalid origins: %q is not a multiaddr", clip(*o))
		}
		if seen[*o] {
			return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "invalid origins: %q is given twice", clip(*o))
		}
		seen[*o] = true
		p.Origins = append(p.Origins, *o)
	}

	if len(in.Meta) > 0 {
		meta, err := parseMeta(in.Meta)
		if err != nil {
			return tack.Pin{}, cid.Undef, tack.Errorf(tack.EINVALID, "invalid meta: %s", tack.ErrorMessage(err))
		}
		if len(meta) > 0 {
			p.Meta = meta
		}
	}
	return p, c, nil
}

// wantType describes the JSON type a Pin field must have.
func wantType(field string) string {
	switch {
	case field == "origins":
		return "an array of multiaddr strings"
	case strings.HasPrefix(field, "origins"):
		return "a multiaddr string"
	}
	return "a string"
}

func tooLarge() error {
	return tack.Errorf(tack.ETOOLARGE, "the request body is over the limit of %d bytes", MaxBodyBytes)
}

// pinStatus is the PinStatus of a request.
func pinStatus(r *tack.PinRequest, delegates []string) PinStatus {
	if delegates == nil {
		delegates = []string{}
	}
	info := r.Info()
	if info == nil {
		info = map[string]string{}
	}
	return PinStatus{
		RequestID: r.ID,
		Status:    r.Status,
		Created:   formatTime(r.Created),
		Pin: Pin{
			CID:     r.Pin.CID,
			Name:    r.Pin.Name,
			Origins: r.Pin.Origins,
			Meta:    r.Pin.Meta,
		},
		Delegates: delegates,
		Info:      info,
	}
}
