package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/httpapi"
)

func TestAuthenticate(t *testing.T) {
	verify := func(_ context.Context, token string) (auth.Principal, error) {
		if token == "good" {
			return auth.Principal{User: "alice", Tenant: "acme"}, nil
		}
		return auth.Principal{}, errors.New("bad signature")
	}
	var got auth.Principal
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = auth.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	h := httpapi.Authenticate(verify, next)
	cases := []struct {
		name, header string
		status       int
		challenge    string
	}{
		{"valid", "Bearer good", 204, ""},
		{"scheme is case-insensitive", "bearer   good ", 204, ""},
		{"no header", "", 401, `Bearer realm="streamer"`},
		{"other scheme", "Basic Z29vZA==", 401, `Bearer realm="streamer"`},
		{"no token", "Bearer ", 401, `Bearer realm="streamer"`},
		{"refused token", "Bearer forged", 401, `Bearer realm="streamer", error="invalid_token", error_description="bad signature"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = auth.Principal{}
			req := httptest.NewRequest("GET", "/requests", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status || rec.Header().Get("WWW-Authenticate") != c.challenge {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"), c.status, c.challenge)
			}
			if c.status == 204 && got.User != "alice" {
				t.Fatalf("principal %+v not passed on", got)
			}
			if c.status == 401 && (got.User != "" || !strings.Contains(rec.Body.String(), `"code":"unauthorized"`)) {
				t.Fatalf("refused request reached the handler or has body %s", rec.Body)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := httpapi.New(httpapi.Config{})
	if err == nil || !strings.Contains(err.Error(), "Store") || !strings.Contains(err.Error(), "Reader") {
		t.Fatalf("New of an empty config: %v (want both problems reported)", err)
	}
}

// The 401 of a refused token names the verifier's reason, in the body and
// in the challenge's error_description, so a client can tell "refresh the
// token" from "fix it"; the token itself appears in neither.
func TestAuthenticateNamesTheReason(t *testing.T) {
	ctx := context.Background()
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(ctx, auth.Config{PublicKeyPEM: key.PublicKeyPEM(), Issuer: "https://issuer.example"})
	if err != nil {
		t.Fatal(err)
	}
	wrongIssuer, err := key.Mint(auth.TokenSpec{User: "alice", Tenant: "acme", TTL: time.Hour, Issuer: "https://other.example"})
	if err != nil {
		t.Fatal(err)
	}
	expired := func(context.Context, string) (auth.Principal, error) {
		return auth.Principal{}, fmt.Errorf("%w: exp 2026-11-29T10:00:00Z is past", auth.ErrTokenExpired)
	}
	for _, tc := range []struct {
		name   string
		verify func(context.Context, string) (auth.Principal, error)
		token  string
		reason string
	}{
		{"wrong issuer", v.Verify, wrongIssuer, "issuer"},
		{"expired", expired, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "token expired"},
		{"garbage", v.Verify, "not-a-jwt", "invalid token"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/requests", nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		httpapi.Authenticate(tc.verify, http.NotFoundHandler()).ServeHTTP(rec, req)
		var body httpapi.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 401 {
			t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		challenge := rec.Header().Get("WWW-Authenticate")
		if !strings.Contains(body.Error.Message, tc.reason) || !strings.Contains(challenge, "error_description=") || !strings.Contains(challenge, tc.reason) {
			t.Errorf("%s: message %q, challenge %q: want the reason %q in both", tc.name, body.Error.Message, challenge, tc.reason)
		}
		if strings.Contains(rec.Body.String()+challenge, tc.token) {
			t.Errorf("%s: the token is echoed", tc.name)
		}
	}
}
