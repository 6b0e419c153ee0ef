package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// Error codes of the API: stable, part of the contract (docs/audit.md).
const (
	CodeUnauthorized     = "unauthorized"       // 401: no or invalid credentials
	CodeForbidden        = "forbidden"          // 403: another user's request without audit:read
	CodeNotFound         = "not_found"          // 404: no such request (or another tenant's), or nothing at asOf
	CodeMethodNotAllowed = "method_not_allowed" // 405: the API is read-only
	CodeInvalidCursor    = "invalid_cursor"     // 400: a cursor this API did not hand out for this query
	CodeInvalidTime      = "invalid_time"       // 400: asOf / since not RFC 3339, or asOf in the future
	CodeInvalidLimit     = "invalid_limit"      // 400: limit not an integer within bounds
	CodeInvalidParameter = "invalid_parameter"  // 400: any other bad path or query parameter
	CodeInternal         = "internal_error"     // 500
	CodeUnavailable      = "unavailable"        // 503: the store is throttled or timed out; retry
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error of an ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is an error response to send.
type apiError struct {
	status  int
	code    string
	message string
	cause   error // logged, never sent
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badParam(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, CodeInvalidParameter, format, args...)
}

func notFound(id string) *apiError {
	return errorf(http.StatusNotFound, CodeNotFound, "request %s not found", id)
}

// storeError maps an error of the event store or the views.
func storeError(id string, err error) *apiError {
	switch {
	case errors.Is(err, audit.ErrNotFound), errors.Is(err, events.ErrStreamNotFound), errors.Is(err, projections.ErrNotFound):
		return notFound(id)
	case errors.Is(err, events.ErrTransient), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, message: "the store is busy or did not answer in time; retry", cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: CodeInternal, message: "internal error", cause: err}
}

// writeJSON sends v as the JSON body of a status response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // the status is sent; a failed write has nobody left to tell
}

// writeError sends e, logging the cause of server errors.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, HEAD")
	}
	level := slog.LevelDebug
	if e.status >= 500 {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "request refused", "method", r.Method, "path", r.URL.Path,
		"status", e.status, "code", e.code, "message", e.message, "err", e.cause)
	writeJSON(w, e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message}})
}

// NotFound answers every request with the API's JSON 404 (code
// not_found): the local server mounts it for the paths no endpoint serves,
// so an unknown path gets the same error shape as everything else.
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: ErrorDetail{Code: CodeNotFound,
			Message: "no endpoint " + r.URL.Path + " (see docs/openapi.yaml)"}})
	})
}
