package auth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/streamer/streamer/auth"
)

// The development flow: one key in the data folder mints tokens (streamer
// token) and verifies them (streamer dev); a $connect request carries the
// token in its header or its query string.
func Example() {
	dir, err := os.MkdirTemp("", "streamer-auth-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	key, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	token, err := key.Mint(auth.TokenSpec{User: "alice", Tenant: "acme", Permissions: []string{auth.PermAuditRead}, TTL: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	v, err := auth.NewVerifier(ctx, auth.Config{PublicKeyPEM: key.PublicKeyPEM()})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A browser puts the token in the query string of the WebSocket URL.
	raw, _ := auth.TokenFromRequest(map[string]string{"Host": "localhost"}, map[string]string{"token": token})
	p, err := v.Verify(ctx, raw)
	fmt.Println(p.User, p.Tenant, p.Permissions, err)
	fmt.Println(auth.CanRead(p, "acme", "bob"), auth.CanControl(p, "acme", "bob"))

	_, err = auth.TokenFromRequest(nil, nil)
	fmt.Println(errors.Is(err, auth.ErrMissingToken))
	_, err = v.Verify(ctx, token[:len(token)-4]+"AAAA")
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))
	// Output:
	// alice acme [audit:read] <nil>
	// <nil> only the owner may change a request: forbidden
	// true
	// true
}
