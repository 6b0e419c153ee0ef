package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Test keys, generated once per test binary (RSA generation is slow).
var (
	keysOnce         sync.Once
	keysErr          error
	rsaKey, rsaOther *rsa.PrivateKey
	ecKey, ecOther   *ecdsa.PrivateKey
	ecP384           *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var errs [5]error
		rsaKey, errs[0] = rsa.GenerateKey(rand.Reader, 2048)
		rsaOther, errs[1] = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, errs[2] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecOther, errs[3] = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecP384, errs[4] = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		for _, err := range errs {
			if err != nil {
				keysErr = err
			}
		}
	})
	if keysErr != nil {
		t.Fatalf("generate keys: %v", keysErr)
	}
}

// pkixPEM encodes pub as a "PUBLIC KEY" PEM.
func pkixPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// pkcs1PEM encodes pub as an "RSA PUBLIC KEY" PEM.
func pkcs1PEM(pub *rsa.PublicKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}))
}

// certPEM is a self-signed certificate of key.
func certPEM(t testing.TB, key crypto.Signer) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "issuer.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// sign builds a token with the jwt library itself (not with Mint), so the
// verifier is tested against an independent signer.
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// claimsAt are valid claims for a verifier whose clock reads now.
func claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub":    "alice",
		"tenant": "acme",
		"exp":    now.Add(time.Hour).Unix(),
		"iat":    now.Unix(),
	}
}

// with returns a copy of c with changes applied; a nil value deletes.
func with(c jwt.MapClaims, changes jwt.MapClaims) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// newTestVerifier builds a verifier whose clock reads now.
func newTestVerifier(t testing.TB, cfg Config, now time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	v.now = func() time.Time { return now }
	return v
}

// jwksServer serves a key set that tests can replace, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	before  func() // when set, runs before each answer
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, before := s.body, s.status, s.before
		s.mu.Unlock()
		if before != nil {
			before()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// jwksOf is a key set of the public halves of keys, by kid.
func jwksOf(t testing.TB, keys map[string]crypto.Signer) []byte {
	t.Helper()
	var list []jwk
	for kid, k := range keys {
		j, err := publicJWK(k.Public(), kid)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, j)
	}
	return marshalJWKS(list...)
}
