package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// Config configures the API.
type Config struct {
	Store  events.Store        // the event log: history, as-of replays, verification
	Reader *projections.Reader // the views: the current request view and the lists
	Logger *slog.Logger        // default slog.Default()
	Now    func() time.Time    // the clock asOf is checked against; default time.Now
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("httpapi: Store is required"))
	}
	if c.Reader == nil {
		errs = append(errs, errors.New("httpapi: Reader is required"))
	}
	return errors.Join(errs...)
}

// API serves the HTTP API. It is safe for concurrent use.
type API struct {
	store  events.Store
	reader *projections.Reader
	log    *slog.Logger
	now    func() time.Time
	h      http.Handler
}

// New returns the API of cfg.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &API{store: cfg.Store, reader: cfg.Reader, log: cfg.Logger, now: cfg.Now}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /requests", a.handle(a.listRequests))
	mux.HandleFunc("GET /requests/{id}", a.handle(a.getRequest))
	mux.HandleFunc("GET /requests/{id}/events", a.handle(a.history))
	mux.HandleFunc("GET /requests/{id}/verify", a.handle(a.verify))
	for _, p := range []string{"/requests", "/requests/{id}", "/requests/{id}/events", "/requests/{id}/verify"} {
		mux.HandleFunc(p, a.handle(func(r *http.Request, _ auth.Principal) (any, *apiError) {
			return nil, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed here: the API is read-only (GET)", r.Method)
		}))
	}
	mux.HandleFunc("/", a.handle(func(r *http.Request, _ auth.Principal) (any, *apiError) {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "no endpoint %s (see docs/openapi.yaml)", r.URL.Path)
	}))
	a.h = mux
	return a, nil
}

// Handler is the API's HTTP handler. It expects the caller's
// auth.Principal in the request context (auth.WithPrincipal, as
// Authenticate and LambdaHandler put it there); without one every request
// is 401 unauthorized. Routes: GET /requests, GET /requests/{id},
// GET /requests/{id}/events, GET /requests/{id}/verify.
func (a *API) Handler() http.Handler { return a.h }

// endpoint is one route's logic: a value to send as JSON with 200, or an
// error response.
type endpoint func(r *http.Request, p auth.Principal) (any, *apiError)

// handle wraps an endpoint: it requires a principal with a user and a
// tenant, turns a panic into a 500, and writes the response.
func (a *API) handle(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.writeError(w, r, &apiError{status: http.StatusInternalServerError, code: CodeInternal,
					message: "internal error", cause: fmt.Errorf("panic: %v", v)})
			}
		}()
		p, ok := auth.FromContext(r.Context())
		if !ok || p.User == "" || p.Tenant == "" {
			a.writeError(w, r, errorf(http.StatusUnauthorized, CodeUnauthorized,
				"authentication required: send a valid bearer token (Authorization: Bearer <JWT>) with sub and tenant claims"))
			return
		}
		body, e := ep(r, p)
		if e != nil {
			a.writeError(w, r, e)
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// authorize decides whether p may read request id, whose first event is
// first.
func authorize(p auth.Principal, id string, first events.Event) *apiError {
	tenant, owner := audit.Parties(first)
	return authorizeView(p, id, tenant, owner)
}

// authorizeView decides whether p may read request id of tenant and owner.
func authorizeView(p auth.Principal, id, tenant, owner string) *apiError {
	err := auth.CanRead(p, tenant, owner)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrForbidden):
		return errorf(http.StatusForbidden, CodeForbidden,
			"request %s belongs to another user; reading it needs the %s permission", id, auth.PermAuditRead)
	}
	return notFound(id) // another tenant: answered as if it did not exist
}
