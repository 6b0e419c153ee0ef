package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestLoadOrCreateDevKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	if k1.Path() != filepath.Join(dir, DevKeyFile) {
		t.Errorf("Path = %s", k1.Path())
	}
	k2, err := LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.KeyID() != k2.KeyID() || k1.PublicKeyPEM() != k2.PublicKeyPEM() {
		t.Fatal("second load gave another key")
	}
	if !strings.HasPrefix(k1.PublicKeyPEM(), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("PublicKeyPEM = %q", k1.PublicKeyPEM())
	}
	if want, _ := Thumbprint(&k1.key.PublicKey); k1.KeyID() != want || len(want) != 43 {
		t.Errorf("KeyID = %q, want the thumbprint %q", k1.KeyID(), want)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(k1.JWKS(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS = %s (%v)", k1.JWKS(), err)
	}
	for field, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": k1.KeyID()} {
		if set.Keys[0][field] != want {
			t.Errorf("JWKS %s = %q, want %q", field, set.Keys[0][field], want)
		}
	}
	if _, ok := set.Keys[0]["d"]; ok {
		t.Error("JWKS holds the private key")
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("data folder holds %v (%v), want only the key", entries, err)
	}

	// A token minted with the first load verifies with the second's PEM.
	tok, err := k1.Mint(TokenSpec{User: "u", Tenant: "t", TTL: time.Minute, Issuer: "streamer-dev"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), Config{PublicKeyPEM: k2.PublicKeyPEM(), Issuer: "streamer-dev"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(context.Background(), tok); err != nil || p.User != "u" || p.Tenant != "t" {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	hdr, _, _ := strings.Cut(tok, ".")
	raw, _ := b64.DecodeString(hdr)
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil || h["alg"] != "ES256" || h["kid"] != k1.KeyID() {
		t.Errorf("header = %s (%v), want ES256 with kid %s", raw, err, k1.KeyID())
	}
}

func TestLoadOrCreateDevKeyRace(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadOrCreateDevKey(dir)
			if err == nil {
				kids[i] = k.KeyID()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || kids[i] != kids[0] {
			t.Fatalf("caller %d: kid %q, err %v; caller 0: %q", i, kids[i], errs[i], kids[0])
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".dev-jwt-key-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestLoadOrCreateDevKeyRefusesForeignFiles(t *testing.T) {
	rsaDER := func() []byte {
		testKeys(t)
		der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ecDER := func(curve elliptic.Curve) []byte {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{name: "not PEM", content: []byte("hello"), want: "no PEM block"},
		{name: "public key", content: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), want: "not a private key"},
		{name: "corrupt PKCS8", content: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), want: "dev key"},
		{name: "RSA key", content: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER()}), want: "not an EC P-256 key"},
		{name: "P-384 key", content: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER(elliptic.P384())}), want: "not an EC P-256 key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DevKeyFile)
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateDevKey(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got, _ := os.ReadFile(path); string(got) != string(tc.content) {
				t.Error("the foreign key file was overwritten")
			}
		})
	}
	t.Run("EC PRIVATE KEY P-256 is loaded", func(t *testing.T) {
		dir := t.TempDir()
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER(elliptic.P256())})
		if err := os.WriteFile(filepath.Join(dir, DevKeyFile), pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateDevKey(dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("data folder is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateDevKey(file); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want a not-a-directory error", err)
		}
	})
}

// opaqueSigner hides the concrete key type, as an HSM or KMS signer does.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

func TestMint(t *testing.T) {
	testKeys(t)
	spec := TokenSpec{User: "u", Tenant: "t", Permissions: []string{PermAuditRead, PermRebuild}, TTL: time.Hour, Issuer: "iss", Audience: "aud"}
	cfg := func(pub crypto.PublicKey) Config {
		return Config{PublicKeyPEM: pkixPEM(t, pub), Issuer: "iss", Audience: "aud"}
	}
	tests := []struct {
		name    string
		key     crypto.Signer
		alg     string
		wantErr string
	}{
		{name: "RSA", key: rsaKey, alg: "RS256"},
		{name: "EC", key: ecKey, alg: "ES256"},
		{name: "opaque RSA signer", key: opaqueSigner{rsaKey}, alg: "RS256"},
		{name: "opaque EC signer", key: opaqueSigner{ecKey}, alg: "ES256"},
		{name: "P-384", key: ecP384, wantErr: "P-384"},
		{name: "nil", key: nil, wantErr: "no key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Mint(tc.key, "kid-1", spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Verified by the jwt library directly and by our Verifier.
			parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return tc.key.Public(), nil },
				jwt.WithValidMethods([]string{tc.alg}))
			if err != nil {
				t.Fatalf("jwt.Parse: %v", err)
			}
			if parsed.Header["kid"] != "kid-1" {
				t.Errorf("kid = %v", parsed.Header["kid"])
			}
			mc := parsed.Claims.(jwt.MapClaims)
			exp, _ := mc.GetExpirationTime()
			iat, _ := mc.GetIssuedAt()
			if exp == nil || iat == nil || exp.Sub(iat.Time) != time.Hour {
				t.Errorf("exp %v, iat %v: want exp = iat + 1h", exp, iat)
			}
			v := newTestVerifier(t, cfg(tc.key.Public()), time.Now())
			p, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if p.User != "u" || p.Tenant != "t" || !p.Has(PermAuditRead) || !p.Has(PermRebuild) {
				t.Fatalf("principal = %+v", p)
			}
		})
	}
}

func TestMintRejectsBadSpecs(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name string
		spec TokenSpec
		want []string
	}{
		{name: "no user", spec: TokenSpec{Tenant: "t", TTL: time.Hour}, want: []string{"user"}},
		{name: "no tenant", spec: TokenSpec{User: "u", TTL: time.Hour}, want: []string{"tenant"}},
		{name: "no ttl", spec: TokenSpec{User: "u", Tenant: "t"}, want: []string{"ttl"}},
		{name: "negative ttl", spec: TokenSpec{User: "u", Tenant: "t", TTL: -time.Second}, want: []string{"ttl"}},
		{name: "everything", spec: TokenSpec{}, want: []string{"user", "tenant", "ttl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Mint(ecKey, "", tc.spec)
			if err == nil {
				t.Fatal("Mint accepted a bad spec")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMintOmitsEmptyOptionalClaims(t *testing.T) {
	testKeys(t)
	tok, err := Mint(ecKey, "", TokenSpec{User: "u", Tenant: "t", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	hdr, _ := b64.DecodeString(parts[0])
	payload, _ := b64.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "aud", "permissions"} {
		if _, ok := claims[k]; ok {
			t.Errorf("claim %s present in %s", k, payload)
		}
	}
	if strings.Contains(string(hdr), "kid") {
		t.Errorf("header %s has a kid", hdr)
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// RFC 7638 section 3.1.
	n, _ := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got, err := Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
}

func TestJWKRoundTrip(t *testing.T) {
	testKeys(t)
	for name, pub := range map[string]crypto.PublicKey{"RSA": &rsaKey.PublicKey, "EC": &ecKey.PublicKey} {
		t.Run(name, func(t *testing.T) {
			j, err := publicJWK(pub, "k")
			if err != nil {
				t.Fatal(err)
			}
			back, err := j.publicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !back.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Fatal("round trip changed the key")
			}
		})
	}
}
