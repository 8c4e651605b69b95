// Package errdefs classifies errors the way the Docker Engine API does, so
// that one function (HTTPStatus) turns any error from the store, a provider
// or a handler into the status code Docker would answer with.
//
// A class is a marker interface with one no-op method. Wrapping keeps the
// original error reachable through errors.Unwrap, and the outermost class
// wins, so a handler can re-classify a lower-level error when Docker expects
// another status.
//
// The classes are the marker interfaces moby and containerd/errdefs use
// (the same method names), not copies under other names: an error
// containerd/errdefs classifies gets its Docker status here, and
// containerd/errdefs recognises an error classified here
// (TestContainerdClasses). What this package adds is Docker's mapping to
// a status (outermost class wins; 304 and 413 included) and constructors
// that keep a message exactly as given, where containerd's sentinels
// bring their own text ("not found").
package errdefs

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNotFound marks an error for a missing object (404).
type ErrNotFound interface{ NotFound() }

// ErrInvalidParameter marks an error for bad client input (400).
type ErrInvalidParameter interface{ InvalidParameter() }

// ErrConflict marks an error for a request that conflicts with current state (409).
type ErrConflict interface{ Conflict() }

// ErrUnauthorized marks an error for a request without valid credentials (401).
type ErrUnauthorized interface{ Unauthorized() }

// ErrForbidden marks an error for a request that is refused (403).
type ErrForbidden interface{ Forbidden() }

// ErrUnavailable marks an error for a dependency that cannot be reached (503).
type ErrUnavailable interface{ Unavailable() }

// ErrNotImplemented marks an error for a feature Sockerless does not offer (501).
type ErrNotImplemented interface{ NotImplemented() }

// ErrNotModified marks a request that changed nothing (304), such as starting a
// running container.
type ErrNotModified interface{ NotModified() }

// ErrRequestTooLarge marks a body that exceeds a limit (413).
type ErrRequestTooLarge interface{ RequestTooLarge() }

type wrapped struct{ error }

func (w wrapped) Unwrap() error { return w.error }

type notFound struct{ wrapped }

func (notFound) NotFound() {}

type invalidParameter struct{ wrapped }

func (invalidParameter) InvalidParameter() {}

type conflict struct{ wrapped }

func (conflict) Conflict() {}

type unauthorized struct{ wrapped }

func (unauthorized) Unauthorized() {}

type forbidden struct{ wrapped }

func (forbidden) Forbidden() {}

type unavailable struct{ wrapped }

func (unavailable) Unavailable() {}

type notImplemented struct{ wrapped }

func (notImplemented) NotImplemented() {}

type notModified struct{ wrapped }

func (notModified) NotModified() {}

type tooLarge struct{ wrapped }

func (tooLarge) RequestTooLarge() {}

// NotFound classifies err as ErrNotFound. A nil err stays nil.
func NotFound(err error) error { return wrap(err, func(w wrapped) error { return notFound{w} }) }

// InvalidParameter classifies err as ErrInvalidParameter. A nil err stays nil.
func InvalidParameter(err error) error {
	return wrap(err, func(w wrapped) error { return invalidParameter{w} })
}

// Conflict classifies err as ErrConflict. A nil err stays nil.
func Conflict(err error) error { return wrap(err, func(w wrapped) error { return conflict{w} }) }

// Unauthorized classifies err as ErrUnauthorized. A nil err stays nil.
func Unauthorized(err error) error {
	return wrap(err, func(w wrapped) error { return unauthorized{w} })
}

// Forbidden classifies err as ErrForbidden. A nil err stays nil.
func Forbidden(err error) error { return wrap(err, func(w wrapped) error { return forbidden{w} }) }

// Unavailable classifies err as ErrUnavailable. A nil err stays nil.
func Unavailable(err error) error { return wrap(err, func(w wrapped) error { return unavailable{w} }) }

// NotImplemented classifies err as ErrNotImplemented. A nil err stays nil.
func NotImplemented(err error) error {
	return wrap(err, func(w wrapped) error { return notImplemented{w} })
}

// NotModified classifies err as ErrNotModified. A nil err stays nil.
func NotModified(err error) error { return wrap(err, func(w wrapped) error { return notModified{w} }) }

// RequestTooLarge classifies err as ErrRequestTooLarge. A nil err stays nil.
func RequestTooLarge(err error) error { return wrap(err, func(w wrapped) error { return tooLarge{w} }) }

func wrap(err error, f func(wrapped) error) error {
	if err == nil {
		return nil
	}
	return f(wrapped{err})
}

// NotFoundf formats a message and classifies it as ErrNotFound.
func NotFoundf(format string, a ...any) error { return NotFound(fmt.Errorf(format, a...)) }

// InvalidParameterf formats a message and classifies it as ErrInvalidParameter.
func InvalidParameterf(format string, a ...any) error {
	return InvalidParameter(fmt.Errorf(format, a...))
}

// Conflictf formats a message and classifies it as ErrConflict.
func Conflictf(format string, a ...any) error { return Conflict(fmt.Errorf(format, a...)) }

// NotImplementedf formats a message and classifies it as ErrNotImplemented.
func NotImplementedf(format string, a ...any) error { return NotImplemented(fmt.Errorf(format, a...)) }

// Unavailablef formats a message and classifies it as ErrUnavailable.
func Unavailablef(format string, a ...any) error { return Unavailable(fmt.Errorf(format, a...)) }

// IsNotFound reports whether err's outermost class is ErrNotFound.
func IsNotFound(err error) bool { return HTTPStatus(err) == http.StatusNotFound }

// IsConflict reports whether err's outermost class is ErrConflict.
func IsConflict(err error) bool { return HTTPStatus(err) == http.StatusConflict }

// IsInvalidParameter reports whether err's outermost class is ErrInvalidParameter.
func IsInvalidParameter(err error) bool { return HTTPStatus(err) == http.StatusBadRequest }

// IsUnavailable reports whether err's outermost class is ErrUnavailable.
func IsUnavailable(err error) bool { return HTTPStatus(err) == http.StatusServiceUnavailable }

// HTTPStatus returns the status Docker answers for err: the class of the
// outermost classified error in the chain wins; an unclassified error is 500.
// A nil error is 200.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	for e := err; e != nil; {
		if s, ok := classStatus(e); ok {
			return s
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if s := HTTPStatus(inner); s != http.StatusInternalServerError {
					return s
				}
			}
			return http.StatusInternalServerError
		default:
			e = nil
		}
	}
	return http.StatusInternalServerError
}

func classStatus(e error) (int, bool) {
	switch e.(type) {
	case ErrNotFound:
		return http.StatusNotFound, true
	case ErrInvalidParameter:
		return http.StatusBadRequest, true
	case ErrConflict:
		return http.StatusConflict, true
	case ErrUnauthorized:
		return http.StatusUnauthorized, true
	case ErrForbidden:
		return http.StatusForbidden, true
	case ErrUnavailable:
		return http.StatusServiceUnavailable, true
	case ErrNotImplemented:
		return http.StatusNotImplemented, true
	case ErrNotModified:
		return http.StatusNotModified, true
	case ErrRequestTooLarge:
		return http.StatusRequestEntityTooLarge, true
	}
	return 0, false
}

// Is reports whether err is target, for convenience at call sites that
// already import errdefs.
func Is(err, target error) bool { return errors.Is(err, target) }

// IsNotModified reports whether err answers 304.
func IsNotModified(err error) bool { return HTTPStatus(err) == http.StatusNotModified }
