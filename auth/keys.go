package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Algorithms a token may be signed with.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// RSA key sizes accepted for verification and signing.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// parsePublicKeys decodes every PEM block of s into a verification key.
func parsePublicKeys(s string) ([]crypto.PublicKey, error) {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	rest := []byte(s)
	var keys []crypto.PublicKey
	for i := 1; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		pub, err := parsePEMBlock(block)
		if err != nil {
			return nil, fmt.Errorf("pem block %d (%s): %w", i, block.Type, err)
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("text after the last PEM block is not PEM")
	}
	return keys, nil
}

func parsePEMBlock(block *pem.Block) (crypto.PublicKey, error) {
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return nil, errors.New("a private key: configure the public key only")
	default:
		return nil, errors.New("not a public key or certificate")
	}
	if err != nil {
		return nil, err
	}
	return pub, checkPublicKey(pub)
}

// checkPublicKey accepts RSA keys of 2048 to 8192 bits and P-256 EC keys.
func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("rsa key of %d bits (want %d to %d)", n, minRSABits, maxRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ec key on curve %s (want P-256)", k.Curve.Params().Name)
		}
		return nil
	}
	return fmt.Errorf("unsupported key type %T (want RSA or EC P-256)", pub)
}

// algOf is the one algorithm a key verifies.
func algOf(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return algRS256
	case *ecdsa.PublicKey:
		return algES256
	}
	return ""
}

// jwk is one JSON Web Key (RFC 7517) of type RSA or EC.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	Kid    string   `json:"kid,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
}

// jwkSet is a JSON Web Key Set; keys are decoded one by one so that one
// unusable key does not hide the others.
type jwkSet struct {
	Keys []json.RawMessage `json:"keys"`
}

var b64 = base64.RawURLEncoding

// publicKey decodes k into a verification key, refusing keys not meant for
// signatures.
func (k jwk) publicKey() (crypto.PublicKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("use %q is not sig", k.Use)
	}
	if len(k.KeyOps) > 0 && !slices.Contains(k.KeyOps, "verify") {
		return nil, errors.New("key_ops lacks verify")
	}
	var pub crypto.PublicKey
	switch k.Kty {
	case "RSA":
		n, err := decodeBigInt(k.N)
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		e, err := decodeBigInt(k.E)
		if err != nil {
			return nil, fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, errors.New("e out of range")
		}
		pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		if k.Crv != "P-256" {
			return nil, fmt.Errorf("curve %q is not P-256", k.Crv)
		}
		x, errX := b64.DecodeString(k.X)
		y, errY := b64.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("x and y must be 32 base64url bytes each")
		}
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
		pub = ec
	default:
		return nil, fmt.Errorf("key type %q is not RSA or EC", k.Kty)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	if k.Alg != "" && k.Alg != algOf(pub) {
		return nil, fmt.Errorf("alg %q is not %s", k.Alg, algOf(pub))
	}
	return pub, nil
}

func decodeBigInt(s string) (*big.Int, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return new(big.Int).SetBytes(b), nil
}

// publicJWK encodes pub as a signature JWK with the given kid.
func publicJWK(pub crypto.PublicKey, kid string) (jwk, error) {
	if err := checkPublicKey(pub); err != nil {
		return jwk{}, err
	}
	k := jwk{Use: "sig", Alg: algOf(pub), Kid: kid}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		k.Kty = "RSA"
		k.N = b64.EncodeToString(p.N.Bytes())
		k.E = b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := p.Bytes()
		if err != nil {
			return jwk{}, err
		}
		k.Kty, k.Crv = "EC", "P-256"
		k.X = b64.EncodeToString(raw[1:33])
		k.Y = b64.EncodeToString(raw[33:65])
	}
	return k, nil
}

// marshalJWKS encodes keys as a JSON Web Key Set.
func marshalJWKS(keys ...jwk) []byte {
	b, err := json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{keys})
	if err != nil {
		panic(fmt.Sprintf("auth: marshal jwks: %v", err)) // plain strings cannot fail to marshal
	}
	return b
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA
// or P-256 public key: a stable key ID.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := publicJWK(pub, "")
	if err != nil {
		return "", err
	}
	// RFC 7638: the required members only, in lexicographic order, no spaces.
	var canonical string
	switch k.Kty {
	case "RSA":
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, k.E, k.N)
	case "EC":
		canonical = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, k.X, k.Y)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:]), nil
}
