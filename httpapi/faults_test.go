package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/httpapi"
	"github.com/streamer/streamer/projections"
)

// fault is the error the decorators below inject while set.
type fault struct{ err atomic.Pointer[error] }

func (f *fault) set(err error) { f.err.Store(&err) }

func (f *fault) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// faultyStore is a real store whose reads fail with the injected error.
type faultyStore struct {
	events.Store
	f *fault
}

func (s faultyStore) Load(ctx context.Context, stream string, from int64, limit int) (events.Page, error) {
	if err := s.f.get(); err != nil {
		return events.Page{}, &events.StoreError{Op: "load", Stream: stream, Version: from, Err: err}
	}
	return s.Store.Load(ctx, stream, from, limit)
}

// faultyGens is a real view catalog whose Meta reads fail with the
// injected error, so every Reader call fails.
type faultyGens struct {
	projections.Generations
	f *fault
}

func (g faultyGens) Meta(ctx context.Context) (projections.Meta, error) {
	if err := g.f.get(); err != nil {
		return projections.Meta{}, err
	}
	return g.Generations.Meta(ctx)
}

// runFaults checks what a failing store or view store is answered with: a
// throttled or timed-out one is 503 unavailable, anything else 500
// internal_error, on every endpoint, with nothing of the cause disclosed.
func runFaults(t *testing.T, b *backend, w *world, sp *spec) {
	f := &fault{}
	api, err := httpapi.New(httpapi.Config{Store: faultyStore{b.store, f}, Reader: projections.NewReader(faultyGens{b.gens, f}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{spec: sp, tr: newHTTPTransport(t, api)}
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("%w: throttled", events.ErrTransient), 503, "unavailable"},
		{context.DeadlineExceeded, 503, "unavailable"},
		{errors.New("secret disk detail"), 500, "internal_error"},
	}
	for _, c := range cases {
		f.set(c.err)
		for _, target := range []string{"/requests/" + w.long, "/requests/" + w.long + "/events", "/requests/" + w.long + "/verify", "/requests"} {
			msg := fails(t, s.get(t, "alice", target), c.status, c.code)
			if c.status == 500 && msg != "internal error" {
				t.Errorf("%s: 500 message %q discloses the cause", target, msg)
			}
		}
	}
	f.set(nil)
	if r := s.get(t, "alice", "/requests/"+w.long); r.status != 200 {
		t.Fatalf("after the faults: %d %s", r.status, r.body)
	}
}
