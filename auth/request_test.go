package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		query   map[string]string
		want    string
		wantMsg string // for ErrMissingToken: a substring of the message
	}{
		{name: "header", headers: map[string]string{"Authorization": "Bearer abc"}, want: "abc"},
		{name: "lowercase header name", headers: map[string]string{"authorization": "Bearer abc"}, want: "abc"},
		{name: "uppercase header name", headers: map[string]string{"AUTHORIZATION": "Bearer abc"}, want: "abc"},
		{name: "lowercase scheme", headers: map[string]string{"Authorization": "bearer abc"}, want: "abc"},
		{name: "extra spaces", headers: map[string]string{"Authorization": "  Bearer   abc  "}, want: "abc"},
		{name: "query", query: map[string]string{"token": "q"}, want: "q"},
		{name: "header wins over query", headers: map[string]string{"Authorization": "Bearer h"}, query: map[string]string{"token": "q"}, want: "h"},
		{name: "other scheme falls back to query", headers: map[string]string{"Authorization": "Basic dXNlcjpwdw=="}, query: map[string]string{"token": "q"}, want: "q"},
		{name: "empty bearer falls back to query", headers: map[string]string{"Authorization": "Bearer "}, query: map[string]string{"token": "q"}, want: "q"},
		{name: "other headers ignored", headers: map[string]string{"X-Token": "Bearer x", "Cookie": "token=y"}, query: map[string]string{"Token": "z"}},
		{name: "other scheme only", headers: map[string]string{"Authorization": "Basic dXNlcjpwdw=="}, wantMsg: `scheme "Basic"`},
		{name: "bare token in header", headers: map[string]string{"Authorization": "abc"}, wantMsg: "not a bearer token"},
		{name: "empty query", query: map[string]string{"token": " "}},
		{name: "nil maps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TokenFromRequest(tc.headers, tc.query)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("TokenFromRequest = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrMissingToken) || got != "" {
				t.Fatalf("TokenFromRequest = %q, %v; want ErrMissingToken", got, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err %q lacks %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "dXNlcjpwdw") {
				t.Errorf("err %q shows the credentials", err)
			}
		})
	}
}

// The two places a $connect request can carry a token give the same
// principal.
func TestTokenFromRequestThenVerify(t *testing.T) {
	testKeys(t)
	now := time.Now()
	v := newTestVerifier(t, Config{PublicKeyPEM: pkixPEM(t, &rsaKey.PublicKey)}, now)
	tok := sign(t, jwt.SigningMethodRS256, rsaKey, claimsAt(now), nil)
	for name, req := range map[string][2]map[string]string{
		"header": {{"authorization": "Bearer " + tok}, nil},
		"query":  {{"Host": "x"}, {"token": tok}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := TokenFromRequest(req[0], req[1])
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), got)
			if err != nil || p.User != "alice" {
				t.Fatalf("Verify = %+v, %v", p, err)
			}
		})
	}
}
