package projections

import (
	"context"
	"fmt"
	"sync"
)

// Reader serves the views of whichever generation is active. It reads the
// Meta record on every call — one primary-key read, strongly consistent on
// DynamoDB — and never caches the answer, so once a switch is visible to a
// reader it never reads the old generation again; together with the
// projector writing the new generation before the old one, a reader sees
// every view's version only grow across a switch.
//
// Reader implements ViewReader. Before any Meta exists (no projector has
// run yet) gets return ErrNotFound and lists are empty.
type Reader struct {
	gens Generations

	mu     sync.Mutex
	stores map[string]ViewStore // open handles by generation (handles, not answers, are cached)
}

var _ ViewReader = (*Reader)(nil)

// NewReader returns a Reader over gens.
func NewReader(gens Generations) *Reader {
	return &Reader{gens: gens, stores: map[string]ViewStore{}}
}

// Active returns the store of the active generation, resolved now; nil
// without error when no generation exists yet.
func (r *Reader) Active(ctx context.Context) (ViewStore, error) {
	m, err := r.gens.Meta(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve active generation: %w", err)
	}
	if m.Active == "" {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.stores[m.Active]; ok {
		return s, nil
	}
	s, err := r.gens.Open(ctx, m.Active, 0)
	if err != nil {
		return nil, fmt.Errorf("open generation %s: %w", m.Active, err)
	}
	r.stores[m.Active] = s
	return s, nil
}

func (r *Reader) GetRequest(ctx context.Context, requestID string) (RequestView, error) {
	s, err := r.Active(ctx)
	if err != nil || s == nil {
		return RequestView{}, orNotFound(err)
	}
	return s.GetRequest(ctx, requestID)
}

func (r *Reader) RequestsByOwner(ctx context.Context, tenant, owner string, opts ListOptions) (RequestPage, error) {
	s, err := r.Active(ctx)
	if err != nil || s == nil {
		return RequestPage{}, err
	}
	return s.RequestsByOwner(ctx, tenant, owner, opts)
}

func (r *Reader) RequestsByStatus(ctx context.Context, tenant, status string, opts ListOptions) (RequestPage, error) {
	s, err := r.Active(ctx)
	if err != nil || s == nil {
		return RequestPage{}, err
	}
	return s.RequestsByStatus(ctx, tenant, status, opts)
}

func (r *Reader) GetConnection(ctx context.Context, connectionID string) (ConnectionView, error) {
	s, err := r.Active(ctx)
	if err != nil || s == nil {
		return ConnectionView{}, orNotFound(err)
	}
	return s.GetConnection(ctx, connectionID)
}

func (r *Reader) Subscribers(ctx context.Context, requestID string) ([]string, error) {
	s, err := r.Active(ctx)
	if err != nil || s == nil {
		return nil, err
	}
	return s.Subscribers(ctx, requestID)
}

func (r *Reader) UserConnections(ctx context.Context, tenant, user string) ([]string, error) {
	s, err := r.Active(ctx)
	if err != nil || s == nil {
		return nil, err
	}
	return s.UserConnections(ctx, tenant, user)
}

func orNotFound(err error) error {
	if err == nil {
		return ErrNotFound
	}
	return err
}
