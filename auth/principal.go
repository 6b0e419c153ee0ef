package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Permissions a token can grant (claim "permissions", or the
// space-separated "scope" claim).
const (
	// PermAuditRead lets a user read the requests, history and chain of
	// other users of their tenant (support, compliance).
	PermAuditRead = "audit:read"
	// PermRebuild lets a user rebuild views.
	PermRebuild = "rebuild"
)

// Principal is who is calling: the subject of a verified token.
type Principal struct {
	User        string   `json:"user"`   // claim "sub"
	Tenant      string   `json:"tenant"` // claim "tenant"
	Permissions []string `json:"permissions,omitempty"`
}

// Has reports whether p holds permission perm.
func (p Principal) Has(perm string) bool { return slices.Contains(p.Permissions, perm) }

// Authorization errors. ErrNotFound is what a caller sees for a resource of
// another tenant: its existence is not disclosed.
var (
	ErrForbidden = errors.New("forbidden")
	ErrNotFound  = errors.New("not found")
)

// CanRead decides whether p may read a request (its view, its events, its
// progress) owned by owner in tenant: the owner may; a user of the same
// tenant with audit:read may; nobody of another tenant may (ErrNotFound, so
// request IDs of other tenants cannot be probed).
func CanRead(p Principal, tenant, owner string) error {
	switch {
	case p.Tenant != tenant:
		return fmt.Errorf("request of another tenant: %w", ErrNotFound)
	case p.User == owner, p.Has(PermAuditRead):
		return nil
	}
	return fmt.Errorf("request owned by another user: %w", ErrForbidden)
}

// CanControl decides whether p may change a request (cancel it): only its
// owner, within the tenant.
func CanControl(p Principal, tenant, owner string) error {
	switch {
	case p.Tenant != tenant:
		return fmt.Errorf("request of another tenant: %w", ErrNotFound)
	case p.User == owner:
		return nil
	}
	return fmt.Errorf("only the owner may change a request: %w", ErrForbidden)
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
