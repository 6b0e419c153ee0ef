package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: no input panics, and none verifies (the key is generated per
// run, so no seed or mutation can carry a valid signature). Errors wrap one
// sentinel and never echo the input.
func FuzzVerify(f *testing.F) {
	testKeys(f)
	now := time.Now()
	for _, s := range []string{"", "a.b.c", "Bearer x", strings.Repeat(".", 5)} {
		f.Add(s)
	}
	ecV := newTestVerifier(f, Config{PublicKeyPEM: pkixPEM(f, &ecKey.PublicKey) + pkixPEM(f, &rsaKey.PublicKey), Issuer: "i", Audience: "a"}, now)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := ecV.Verify(context.Background(), token)
		if err == nil {
			t.Fatalf("random token verified: %+v", p)
		}
		n := 0
		for _, s := range []error{ErrMissingToken, ErrInvalidToken, ErrTokenExpired} {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("err %v wraps %d sentinels, want 1", err, n)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error echoes the token: %v", err)
		}
	})
}

// FuzzParseJWKS: a JWKS document from the network never panics the decoder,
// and whatever it keeps is a usable RSA or P-256 key.
func FuzzParseJWKS(f *testing.F) {
	for _, s := range []string{`{"keys":[]}`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, _, err := parseJWKS(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range keys {
			if err := checkPublicKey(k.pub); err != nil {
				t.Fatalf("kept an unusable key: %v", err)
			}
		}
	})
}

// FuzzTokenFromRequest: header and query values from the client never
// panic the extraction; a found token is trimmed and non-empty.
func FuzzTokenFromRequest(f *testing.F) {
	f.Add("Authorization", "Bearer abc", "")
	f.Add("authorization", "Basic xyz", "tok")
	f.Add("X", "", " ")
	f.Fuzz(func(t *testing.T, name, value, query string) {
		tok, err := TokenFromRequest(map[string]string{name: value}, map[string]string{TokenQueryParam: query})
		switch {
		case err != nil && !errors.Is(err, ErrMissingToken):
			t.Fatalf("err %v is not ErrMissingToken", err)
		case err == nil && (tok == "" || strings.TrimSpace(tok) != tok):
			t.Fatalf("token %q is empty or untrimmed", tok)
		case err != nil && tok != "":
			t.Fatalf("token %q with error %v", tok, err)
		}
	})
}
