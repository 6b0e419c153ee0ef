package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	testKeys(t)
	now := time.Now().Truncate(time.Second)
	valid := claimsAt(now)
	rsaPEM := pkixPEM(t, &rsaKey.PublicKey)
	ecPEM := pkixPEM(t, &ecKey.PublicKey)
	bothPEM := rsaPEM + ecPEM
	alice := Principal{User: "alice", Tenant: "acme"}

	tests := []struct {
		name    string
		cfg     Config
		token   string
		want    Principal
		wantErr error // one of the sentinels; nil means valid
		also    error // a jwt library error the chain must hold too
	}{
		{name: "RS256 via PKIX PEM", cfg: Config{PublicKeyPEM: rsaPEM},
			token: sign(t, jwt.SigningMethodRS256, rsaKey, valid, nil), want: alice},
		{name: "ES256 via PKIX PEM", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, valid, nil), want: alice},
		{name: "RS256 via RSA PUBLIC KEY PEM", cfg: Config{PublicKeyPEM: pkcs1PEM(&rsaKey.PublicKey)},
			token: sign(t, jwt.SigningMethodRS256, rsaKey, valid, nil), want: alice},
		{name: "ES256 via certificate", cfg: Config{PublicKeyPEM: certPEM(t, ecKey)},
			token: sign(t, jwt.SigningMethodES256, ecKey, valid, nil), want: alice},
		{name: "RS256 via certificate", cfg: Config{PublicKeyPEM: certPEM(t, rsaKey)},
			token: sign(t, jwt.SigningMethodRS256, rsaKey, valid, nil), want: alice},
		{name: "two keys in one PEM, RS256", cfg: Config{PublicKeyPEM: bothPEM},
			token: sign(t, jwt.SigningMethodRS256, rsaKey, valid, nil), want: alice},
		{name: "two keys in one PEM, ES256", cfg: Config{PublicKeyPEM: bothPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, valid, nil), want: alice},
		{name: "PEM with escaped newlines", cfg: Config{PublicKeyPEM: strings.ReplaceAll(ecPEM, "\n", `\n`)},
			token: sign(t, jwt.SigningMethodES256, ecKey, valid, nil), want: alice},
		{name: "kid is ignored with a PEM", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, valid, map[string]any{"kid": "whatever"}), want: alice},

		{name: "permissions and scope merged", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{
				"permissions": []string{"audit:read", "", "rebuild"}, "scope": "openid  rebuild extra"}), nil),
			want: Principal{User: "alice", Tenant: "acme", Permissions: []string{"audit:read", "rebuild", "openid", "extra"}}},
		{name: "scope only", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"scope": "audit:read"}), nil),
			want:  Principal{User: "alice", Tenant: "acme", Permissions: []string{"audit:read"}}},
		{name: "permissions not an array", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"permissions": "rebuild"}), nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenMalformed},

		{name: "expired", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}), nil),
			wantErr: ErrTokenExpired, also: jwt.ErrTokenExpired},
		{name: "expired within leeway", cfg: Config{PublicKeyPEM: ecPEM, Leeway: time.Minute},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"exp": now.Add(-30 * time.Second).Unix()}), nil),
			want:  alice},
		{name: "expired beyond leeway", cfg: Config{PublicKeyPEM: ecPEM, Leeway: time.Minute},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"exp": now.Add(-2 * time.Minute).Unix()}), nil),
			wantErr: ErrTokenExpired},
		{name: "not yet valid", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()}), nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenNotValidYet},
		{name: "not yet valid within leeway", cfg: Config{PublicKeyPEM: ecPEM, Leeway: 2 * time.Minute},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()}), nil),
			want:  alice},
		{name: "missing exp", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"exp": nil}), nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenRequiredClaimMissing},
		{name: "missing sub", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"sub": nil}), nil),
			wantErr: ErrInvalidToken},
		{name: "empty sub", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"sub": ""}), nil),
			wantErr: ErrInvalidToken},
		{name: "missing tenant", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"tenant": nil}), nil),
			wantErr: ErrInvalidToken},
		{name: "tenant not a string", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"tenant": 7}), nil),
			wantErr: ErrInvalidToken},

		{name: "issuer matches", cfg: Config{PublicKeyPEM: ecPEM, Issuer: "https://issuer.test"},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"iss": "https://issuer.test"}), nil),
			want:  alice},
		{name: "wrong issuer", cfg: Config{PublicKeyPEM: ecPEM, Issuer: "https://issuer.test"},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"iss": "https://evil.test"}), nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenInvalidIssuer},
		{name: "missing issuer when configured", cfg: Config{PublicKeyPEM: ecPEM, Issuer: "https://issuer.test"},
			token:   sign(t, jwt.SigningMethodES256, ecKey, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenRequiredClaimMissing},
		{name: "issuer unchecked when not configured", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"iss": "anyone"}), nil),
			want:  alice},
		{name: "audience matches (string)", cfg: Config{PublicKeyPEM: ecPEM, Audience: "streamer"},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"aud": "streamer"}), nil),
			want:  alice},
		{name: "audience matches (array)", cfg: Config{PublicKeyPEM: ecPEM, Audience: "streamer"},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"aud": []string{"other", "streamer"}}), nil),
			want:  alice},
		{name: "wrong audience", cfg: Config{PublicKeyPEM: ecPEM, Audience: "streamer"},
			token:   sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"aud": "billing"}), nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenInvalidAudience},
		{name: "missing audience when configured", cfg: Config{PublicKeyPEM: ecPEM, Audience: "streamer"},
			token:   sign(t, jwt.SigningMethodES256, ecKey, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenRequiredClaimMissing},

		{name: "RS256 signed by another key", cfg: Config{PublicKeyPEM: rsaPEM},
			token:   sign(t, jwt.SigningMethodRS256, rsaOther, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},
		{name: "ES256 signed by another key", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecOther, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},
		{name: "RS256 token, only an EC key configured", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodRS256, rsaKey, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenUnverifiable},
		{name: "alg none", cfg: Config{PublicKeyPEM: rsaPEM},
			token:   sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},
		{name: "HS256 with the public PEM as HMAC secret", cfg: Config{PublicKeyPEM: rsaPEM},
			token:   sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},
		{name: "ES384 not accepted", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES384, ecP384, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},
		{name: "PS256 not accepted", cfg: Config{PublicKeyPEM: rsaPEM},
			token:   sign(t, jwt.SigningMethodPS256, rsaKey, valid, nil),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},
		{name: "crit header refused", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, valid, map[string]any{"crit": []string{"exp"}}),
			wantErr: ErrInvalidToken},
		{name: "kid not a string", cfg: Config{PublicKeyPEM: ecPEM},
			token:   sign(t, jwt.SigningMethodES256, ecKey, valid, map[string]any{"kid": 3}),
			wantErr: ErrInvalidToken},
		{name: "claims swapped after signing", cfg: Config{PublicKeyPEM: ecPEM},
			token: swapClaims(sign(t, jwt.SigningMethodES256, ecKey, valid, nil),
				sign(t, jwt.SigningMethodES256, ecOther, with(valid, jwt.MapClaims{"sub": "mallory"}), nil)),
			wantErr: ErrInvalidToken, also: jwt.ErrTokenSignatureInvalid},

		{name: "empty", cfg: Config{PublicKeyPEM: ecPEM}, token: "", wantErr: ErrMissingToken},
		{name: "garbage", cfg: Config{PublicKeyPEM: ecPEM}, token: "not a token", wantErr: ErrInvalidToken, also: jwt.ErrTokenMalformed},
		{name: "three empty segments", cfg: Config{PublicKeyPEM: ecPEM}, token: "..", wantErr: ErrInvalidToken},
		{name: "bad base64", cfg: Config{PublicKeyPEM: ecPEM}, token: "!!!.???.***", wantErr: ErrInvalidToken, also: jwt.ErrTokenMalformed},
		{name: "json but not an object", cfg: Config{PublicKeyPEM: ecPEM}, token: "WzFd.WzFd.AA", wantErr: ErrInvalidToken},
		{name: "four segments", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, valid, nil) + ".x", wantErr: ErrInvalidToken},
		{name: "Bearer prefix left in", cfg: Config{PublicKeyPEM: ecPEM},
			token: "Bearer " + sign(t, jwt.SigningMethodES256, ecKey, valid, nil), wantErr: ErrInvalidToken},
		{name: "too large", cfg: Config{PublicKeyPEM: ecPEM},
			token: sign(t, jwt.SigningMethodES256, ecKey, with(valid, jwt.MapClaims{"pad": strings.Repeat("x", MaxTokenBytes)}), nil), wantErr: ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, tc.cfg, now)
			got, err := v.Verify(context.Background(), tc.token)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.User != tc.want.User || got.Tenant != tc.want.Tenant || !slices.Equal(got.Permissions, tc.want.Permissions) {
					t.Fatalf("principal = %+v, want %+v", got, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, other := range []error{ErrMissingToken, ErrInvalidToken, ErrTokenExpired} {
				if other != tc.wantErr && errors.Is(err, other) {
					t.Errorf("err %v also matches %v", err, other)
				}
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.also)
			}
			if got.User != "" || got.Tenant != "" || got.Permissions != nil {
				t.Errorf("principal %+v returned with an error", got)
			}
			if len(tc.token) > 8 && strings.Contains(err.Error(), tc.token) {
				t.Errorf("error message contains the token")
			}
		})
	}
}

// swapClaims puts the payload of b into a, keeping a's header and signature.
func swapClaims(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return pa[0] + "." + pb[1] + "." + pa[2]
}

func TestVerifyUsesRealClockByDefault(t *testing.T) {
	testKeys(t)
	v, err := NewVerifier(context.Background(), Config{PublicKeyPEM: pkixPEM(t, &ecKey.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := sign(t, jwt.SigningMethodES256, ecKey, claimsAt(time.Now()), nil)
	if _, err := v.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	old := sign(t, jwt.SigningMethodES256, ecKey, claimsAt(time.Now().Add(-2*time.Hour)), nil)
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("token expired an hour ago: err = %v, want ErrTokenExpired", err)
	}
}

func TestConfigValidate(t *testing.T) {
	testKeys(t)
	ecPEM := pkixPEM(t, &ecKey.PublicKey)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{name: "PEM", cfg: Config{PublicKeyPEM: ecPEM}},
		{name: "JWKS URL", cfg: Config{JWKSURL: "https://issuer.test/.well-known/jwks.json", Leeway: time.Second}},
		{name: "neither", cfg: Config{}, want: []string{"one of PublicKeyPEM"}},
		{name: "both", cfg: Config{PublicKeyPEM: ecPEM, JWKSURL: "https://issuer.test/jwks"}, want: []string{"exclusive"}},
		{name: "not PEM", cfg: Config{PublicKeyPEM: "hello"}, want: []string{"no PEM block"}},
		{name: "private key PEM", cfg: Config{PublicKeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
			want: []string{"private key"}},
		{name: "P-384 key", cfg: Config{PublicKeyPEM: pkixPEM(t, &ecP384.PublicKey)}, want: []string{"P-384"}},
		{name: "RSA 1024", cfg: Config{PublicKeyPEM: pkixPEM(t, &weak.PublicKey)}, want: []string{"1024 bits"}},
		{name: "trailing junk", cfg: Config{PublicKeyPEM: ecPEM + "junk"}, want: []string{"after the last PEM block"}},
		{name: "ftp URL", cfg: Config{JWKSURL: "ftp://issuer.test/jwks"}, want: []string{"scheme"}},
		{name: "relative URL", cfg: Config{JWKSURL: "/jwks"}, want: []string{"scheme"}},
		{name: "every problem at once", cfg: Config{JWKSURL: "ftp://x/", Leeway: -time.Second, JWKSRefresh: -time.Second},
			want: []string{"scheme", "Leeway", "JWKSRefresh"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, nerr := NewVerifier(context.Background(), tc.cfg); nerr == nil {
				t.Error("NewVerifier accepted an invalid config")
			}
		})
	}
}
