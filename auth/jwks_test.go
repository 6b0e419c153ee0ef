package auth

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksVerifier is a verifier of srv's key set whose clock the test moves.
type jwksVerifier struct {
	*Verifier
	clock *atomic.Int64 // unix nanoseconds
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newJWKSVerifier(t *testing.T, srv *jwksServer, cfg Config) jwksVerifier {
	t.Helper()
	logs := &syncBuffer{}
	cfg.JWKSURL = srv.URL + "/.well-known/jwks.json?tenant=x"
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	clock := &atomic.Int64{}
	clock.Store(time.Now().UnixNano()) // after the first fetch, which used the real clock
	v.now = func() time.Time { return time.Unix(0, clock.Load()) }
	return jwksVerifier{Verifier: v, clock: clock, logs: logs}
}

func (v jwksVerifier) advance(d time.Duration) { v.clock.Add(int64(d)) }

func (v jwksVerifier) token(t *testing.T, method jwt.SigningMethod, key crypto.Signer, kid string) string {
	t.Helper()
	var header map[string]any
	if kid != "" {
		header = map[string]any{"kid": kid}
	}
	return sign(t, method, key, claimsAt(v.now()), header)
}

func TestJWKSVerify(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]crypto.Signer{"rsa-1": rsaKey, "ec-1": ecKey}))
	v := newJWKSVerifier(t, srv, Config{})
	tests := []struct {
		name    string
		method  jwt.SigningMethod
		key     crypto.Signer
		kid     string
		wantErr error
	}{
		{name: "RS256 by kid", method: jwt.SigningMethodRS256, key: rsaKey, kid: "rsa-1"},
		{name: "ES256 by kid", method: jwt.SigningMethodES256, key: ecKey, kid: "ec-1"},
		{name: "RS256 without kid", method: jwt.SigningMethodRS256, key: rsaKey},
		{name: "ES256 without kid", method: jwt.SigningMethodES256, key: ecKey},
		{name: "kid of a key of the other type", method: jwt.SigningMethodRS256, key: rsaKey, kid: "ec-1", wantErr: ErrInvalidToken},
		{name: "right kid, another key", method: jwt.SigningMethodES256, key: ecOther, kid: "ec-1", wantErr: ErrInvalidToken},
		{name: "no kid, another key", method: jwt.SigningMethodRS256, key: rsaOther, wantErr: ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), v.token(t, tc.method, tc.key, tc.kid))
			if tc.wantErr == nil {
				if err != nil || p.User != "alice" || p.Tenant != "acme" {
					t.Fatalf("Verify = %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// "kid of a key of the other type" is an unknown kid for RS256: it made
	// one rate-limited refetch at most.
	if n := srv.fetches.Load(); n > 2 {
		t.Errorf("%d fetches, want at most 2", n)
	}
	if strings.Contains(v.logs.String(), "tenant=x") {
		t.Errorf("logs show the JWKS URL's query: %s", v.logs)
	}
}

func TestJWKSRotation(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]crypto.Signer{"old": rsaKey}))
	v := newJWKSVerifier(t, srv, Config{})
	ctx := context.Background()
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodRS256, rsaKey, "old")); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after start, want 1", n)
	}

	// The issuer rotates: the new key replaces the old one. A token with the
	// new kid makes the verifier refetch at once.
	srv.set(http.StatusOK, jwksOf(t, map[string]crypto.Signer{"new": ecKey}))
	v.advance(JWKSMinRefetch) // the start-up fetch counts for the rate limit
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodES256, ecKey, "new")); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after an unknown kid, want 2", n)
	}

	// The old key is gone; unknown kids do not refetch again within JWKSMinRefetch.
	for _, kid := range []string{"old", "made-up-1", "made-up-2"} {
		_, err := v.Verify(ctx, v.token(t, jwt.SigningMethodRS256, rsaKey, kid))
		if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "unknown key id") {
			t.Fatalf("kid %s: err = %v, want an unknown key id", kid, err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2: unknown kids must be rate-limited", n)
	}

	// After the interval an unknown kid refetches once more.
	v.advance(JWKSMinRefetch)
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodRS256, rsaKey, "made-up-3")); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

func TestJWKSRefreshAndOutage(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]crypto.Signer{"ec": ecKey}))
	v := newJWKSVerifier(t, srv, Config{JWKSRefresh: 10 * time.Minute})
	ctx := context.Background()

	// Within JWKSRefresh the cached set is used.
	v.advance(9 * time.Minute)
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodES256, ecKey, "ec")); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}

	// The endpoint fails; the stale set is refreshed, fails, and stays in use.
	srv.set(http.StatusInternalServerError, []byte(`oops`))
	v.advance(2 * time.Minute)
	tok := v.token(t, jwt.SigningMethodES256, ecKey, "ec")
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("known key during an outage: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	if !strings.Contains(v.logs.String(), "jwks fetch failed") || !strings.Contains(v.logs.String(), "status 500") {
		t.Errorf("outage not logged: %s", v.logs)
	}
	if strings.Contains(v.logs.String(), tok) {
		t.Error("the token appears in the logs")
	}
	// A failed refresh is retried only after JWKSMinRefetch.
	v.advance(time.Second)
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodES256, ecKey, "ec")); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (rate-limited retry)", n)
	}

	// Back up, with a new key: the next stale check picks it up.
	srv.set(http.StatusOK, jwksOf(t, map[string]crypto.Signer{"ec2": ecOther}))
	v.advance(JWKSMinRefetch)
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodES256, ecOther, "ec2")); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodES256, ecKey, "ec")); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("removed key: err = %v, want ErrInvalidToken", err)
	}
}

func TestNewVerifierJWKSFailures(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{name: "server error", status: 500, body: `{}`, want: "status 500"},
		{name: "not json", status: 200, body: `<html>`, want: "jwks decode"},
		{name: "no keys", status: 200, body: `{"keys":[]}`, want: "no usable"},
		{name: "only unusable keys", status: 200, body: `{"keys":[
			{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
			{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
			{"kty":"EC","crv":"P-384","x":"AA","y":"AA"},
			{"kty":"RSA","n":"AQAB","e":"AQAB","use":"enc"},
			{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`, want: "5 skipped"},
		{name: "too large", status: 200, body: `{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}`, want: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, []byte(tc.body))
			srv.set(tc.status, []byte(tc.body))
			_, err := NewVerifier(context.Background(), Config{JWKSURL: srv.URL, Logger: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNewVerifierJWKSBoundedByContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := NewVerifier(ctx, Config{JWKSURL: srv.URL, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

func TestParseJWKSSkipsButKeeps(t *testing.T) {
	testKeys(t)
	good, err := publicJWK(&ecKey.PublicKey, "good")
	if err != nil {
		t.Fatal(err)
	}
	mismatched, err := publicJWK(&rsaKey.PublicKey, "mismatched")
	if err != nil {
		t.Fatal(err)
	}
	mismatched.Alg = "ES256"
	verifyOnly, err := publicJWK(&rsaKey.PublicKey, "ops")
	if err != nil {
		t.Fatal(err)
	}
	verifyOnly.Use, verifyOnly.KeyOps = "", []string{"verify"}
	encOnly := verifyOnly
	encOnly.Kid, encOnly.KeyOps = "enc", []string{"encrypt"}
	body := []byte(strings.Replace(string(marshalJWKS(good, mismatched, verifyOnly, encOnly)), `"keys":[`, `"keys":[7,`, 1))

	keys, skipped, err := parseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.kid)
	}
	if strings.Join(kids, ",") != "good,ops" {
		t.Errorf("kept %v, want good,ops", kids)
	}
	if len(skipped) != 3 {
		t.Errorf("skipped %q, want 3 (a number, alg mismatch, encrypt-only)", skipped)
	}
}

func TestDevKeyJWKSServesVerifier(t *testing.T) {
	k, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, k.JWKS())
	v, err := NewVerifier(context.Background(), Config{JWKSURL: srv.URL, Audience: "streamer", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.Mint(TokenSpec{User: "bob", Tenant: "t1", Permissions: []string{PermRebuild}, TTL: time.Minute, Audience: "streamer"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.User != "bob" || p.Tenant != "t1" || !p.Has(PermRebuild) {
		t.Fatalf("principal = %+v", p)
	}
}

func TestJWKSConcurrentUnknownKidFetchesOnce(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]crypto.Signer{"a": ecKey}))
	v := newJWKSVerifier(t, srv, Config{})
	srv.set(http.StatusOK, jwksOf(t, map[string]crypto.Signer{"a": ecKey, "b": ecOther}))
	v.advance(JWKSMinRefetch)
	tok := v.token(t, jwt.SigningMethodES256, ecOther, "b")
	errs := make(chan error, 16)
	for range cap(errs) {
		go func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (start-up and one refetch)", n)
	}
}

func TestJWKSFetchOutlivesCancelledCaller(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]crypto.Signer{"a": ecKey}))
	v := newJWKSVerifier(t, srv, Config{})
	srv.set(http.StatusOK, jwksOf(t, map[string]crypto.Signer{"b": rsaKey}))
	v.advance(JWKSMinRefetch)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, v.token(t, jwt.SigningMethodRS256, rsaKey, "b")); err != nil {
		t.Fatalf("rotated key with a cancelled caller: %v", err)
	}
}

func TestJWKSStaleRefreshDoesNotBlockVerify(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]crypto.Signer{"a": ecKey}))
	v := newJWKSVerifier(t, srv, Config{JWKSRefresh: time.Hour})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv.mu.Lock()
	srv.before = func() {
		once.Do(func() { close(entered) })
		<-release
	}
	srv.mu.Unlock()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	// A token with an unknown kid starts a fetch that hangs.
	v.advance(JWKSMinRefetch)
	unknown := v.token(t, jwt.SigningMethodES256, ecKey, "zzz")
	hanging := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), unknown)
		hanging <- err
	}()
	<-entered

	// Meanwhile the set turns stale: a known kid still verifies with the
	// cached keys instead of queueing behind the hanging fetch.
	v.advance(2 * time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), v.token(t, jwt.SigningMethodES256, ecKey, "a"))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("known kid during a fetch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Verify of a known kid waited for the fetch in progress")
	}
	close(release)
	if err := <-hanging; !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid: err = %v, want ErrInvalidToken", err)
	}
}
