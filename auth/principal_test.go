package auth

import (
	"context"
	"errors"
	"testing"
)

func TestCanReadAndCanControl(t *testing.T) {
	alice := Principal{User: "alice", Tenant: "acme"}
	auditor := Principal{User: "carol", Tenant: "acme", Permissions: []string{PermAuditRead}}
	rebuilder := Principal{User: "dave", Tenant: "acme", Permissions: []string{PermRebuild}}
	outsider := Principal{User: "alice", Tenant: "globex", Permissions: []string{PermAuditRead}}
	tests := []struct {
		name        string
		p           Principal
		tenant      string
		owner       string
		read, write error // nil: allowed
	}{
		{name: "owner", p: alice, tenant: "acme", owner: "alice"},
		{name: "same tenant, another owner", p: alice, tenant: "acme", owner: "bob", read: ErrForbidden, write: ErrForbidden},
		{name: "auditor reads, cannot control", p: auditor, tenant: "acme", owner: "bob", write: ErrForbidden},
		{name: "rebuild grants no reading", p: rebuilder, tenant: "acme", owner: "bob", read: ErrForbidden, write: ErrForbidden},
		{name: "same user name, other tenant", p: outsider, tenant: "acme", owner: "alice", read: ErrNotFound, write: ErrNotFound},
		{name: "empty principal", p: Principal{}, tenant: "acme", owner: "alice", read: ErrNotFound, write: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, got, want error) {
				t.Helper()
				if want == nil && got != nil || want != nil && !errors.Is(got, want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
				if errors.Is(got, ErrForbidden) && errors.Is(got, ErrNotFound) {
					t.Errorf("%s = %v matches both sentinels", what, got)
				}
			}
			check("CanRead", CanRead(tc.p, tc.tenant, tc.owner), tc.read)
			check("CanControl", CanControl(tc.p, tc.tenant, tc.owner), tc.write)
		})
	}
}

func TestPrincipalHas(t *testing.T) {
	p := Principal{Permissions: []string{PermAuditRead}}
	if !p.Has(PermAuditRead) || p.Has(PermRebuild) || (Principal{}).Has("") {
		t.Fatalf("Has wrong for %+v", p)
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("principal found in an empty context")
	}
	want := Principal{User: "u", Tenant: "t", Permissions: []string{PermRebuild}}
	got, ok := FromContext(WithPrincipal(context.Background(), want))
	if !ok || got.User != want.User || got.Tenant != want.Tenant || !got.Has(PermRebuild) {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}
