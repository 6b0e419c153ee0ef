package localfront

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
)

// Group runs a local stack's background components (feeds, pollers, the
// server) and keeps the first error one of them stopped with; a component
// that ends because its context was cancelled or its server closed is not
// an error.
type Group struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	closed bool
	log    *slog.Logger
}

// NewGroup returns a Group that logs failed components to logger.
func NewGroup(logger *slog.Logger) *Group { return &Group{log: logger} }

// Go runs f in the background.
func (g *Group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := f()
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
			return
		}
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
		g.log.Error("stack component stopped", "err", err)
	}()
}

// Wait waits for every component to return.
func (g *Group) Wait() { g.wg.Wait() }

// Err returns the first error a component stopped with.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// CloseOnce reports true the first time it is called, false after: the
// guard of a stack's Close.
func (g *Group) CloseOnce() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := !g.closed
	g.closed = true
	return first
}
