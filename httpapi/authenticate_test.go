package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		{"refused token", "Bearer forged", 401, `Bearer realm="streamer", error="invalid_token"`},
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
