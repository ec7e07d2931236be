package tack

import (
	"errors"
	"fmt"
)

// Error codes. The http package maps each one to an HTTP status and to the
// `reason` of the Pinning Service API's error body.
const (
	EINVALID      = "invalid"      // bad input: 400
	EUNAUTHORIZED = "unauthorized" // missing, malformed, unknown or revoked token: 401
	EFORBIDDEN    = "forbidden"    // the account may not use pinning: 403
	ENOTFOUND     = "not_found"    // no such object (or not the caller's): 404
	ECONFLICT     = "conflict"     // the object already exists: 409
	EQUOTA        = "quota"        // over one of the account's limits: 409 INSUFFICIENT_FUNDS
	ETOOLARGE     = "too_large"    // request body over the limit: 413
	ETIMEOUT      = "timeout"      // request body still arriving after the time allowed: 408
	ERATELIMITED  = "rate_limited" // too many requests: 429
	EINTERNAL     = "internal"     // anything unexpected: 500
	EUNAVAILABLE  = "unavailable"  // shutting down, overloaded, or a part tack stands on is down: 503
)

// The messages of the EUNAVAILABLE errors that an outage of a part tack
// stands on gives (see Unavailable): they name the part, never the fault.
const (
	MsgStoreUnavailable      = "the metadata store is unavailable; retry later"
	MsgStoreFull             = "the metadata store is unavailable: no room on its disk; retry later"
	MsgDiskFull              = "no room on the data disk; retry later"
	MsgBlockstoreUnavailable = "the block store is unavailable; retry later"
)

// Error is an application error: a code from the list above and a message
// meant for the user.
type Error struct {
	Code    string
	Message string
	// Err, if not nil, is the fault behind the error (a driver's, the
	// system's): logged and counted, never shown to the user.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("tack error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("tack error: code=%s message=%s", e.Code, e.Message)
}

// Unwrap returns the fault behind the error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Unavailable returns an EUNAVAILABLE error with msg (one of the Msg…
// constants) for the user, caused by err: a part tack stands on (the
// metadata store, the block store, the data disk) cannot answer or cannot
// take a write now, and may later. A client should wait and retry.
func Unavailable(msg string, err error) *Error {
	return &Error{Code: EUNAVAILABLE, Message: msg, Err: err}
}

// IsOutage reports whether err is (or wraps) an error of Unavailable: an
// EUNAVAILABLE error caused by a fault, not by load or shutdown.
func IsOutage(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == EUNAVAILABLE && e.Err != nil
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err if it is an *Error, and
// "internal error" for any other error: internal details are never shown.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// BlockstoreError marks an internal error of the blockstore (storing,
// reading or syncing blocks), so that internal errors are counted by their
// source; any other internal error is the store's.
type BlockstoreError struct{ Err error }

func (e BlockstoreError) Error() string { return e.Err.Error() }
func (e BlockstoreError) Unwrap() error { return e.Err }
