package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenSpec describes a token to mint.
type TokenSpec struct {
	User        string        // claim "sub"; required
	Tenant      string        // claim "tenant"; required
	Permissions []string      // claim "permissions"; omitted when empty
	TTL         time.Duration // "exp" is now+TTL; must be positive
	Issuer      string        // claim "iss"; omitted when empty
	Audience    string        // claim "aud"; omitted when empty
}

// Validate reports every problem of s at once.
func (s TokenSpec) Validate() error {
	var errs []error
	if s.User == "" {
		errs = append(errs, errors.New("user is required"))
	}
	if s.Tenant == "" {
		errs = append(errs, errors.New("tenant is required"))
	}
	if s.TTL <= 0 {
		errs = append(errs, fmt.Errorf("ttl %s is not positive", s.TTL))
	}
	return errors.Join(errs...)
}

// mintClaims are the claims Mint writes.
type mintClaims struct {
	jwt.RegisteredClaims
	Tenant      string   `json:"tenant"`
	Permissions []string `json:"permissions,omitempty"`
}

// Mint signs a token for spec with key: RS256 for an RSA key (2048 to 8192
// bits), ES256 for a P-256 EC key. Any crypto.Signer works (an HSM or KMS
// key too). kid, when not empty, goes into the header. "iat" is now.
func Mint(key crypto.Signer, kid string, spec TokenSpec) (string, error) {
	if key == nil {
		return "", errors.New("mint: no key")
	}
	pub := key.Public()
	if err := checkPublicKey(pub); err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	if err := spec.Validate(); err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	method := jwt.SigningMethod(jwt.SigningMethodRS256)
	if algOf(pub) == algES256 {
		method = jwt.SigningMethodES256
	}
	now := time.Now()
	claims := mintClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   spec.User,
			Issuer:    spec.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(spec.TTL)),
		},
		Tenant:      spec.Tenant,
		Permissions: spec.Permissions,
	}
	if spec.Audience != "" {
		claims.Audience = jwt.ClaimStrings{spec.Audience}
	}
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	signing, err := tok.SigningString()
	if err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	digest := sha256.Sum256([]byte(signing))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256) // PKCS #1 v1.5 for RSA
	if err != nil {
		return "", fmt.Errorf("mint: sign: %w", err)
	}
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		if sig, err = jwsECDSASignature(sig); err != nil {
			return "", fmt.Errorf("mint: %w", err)
		}
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// jwsECDSASignature turns an ASN.1 ECDSA signature into the JWS form:
// R and S as 32-byte big-endian integers, concatenated (RFC 7518 3.4).
func jwsECDSASignature(der []byte) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R == nil || rs.S == nil {
		return nil, errors.New("signer returned a malformed ecdsa signature")
	}
	size := (elliptic.P256().Params().BitSize + 7) / 8
	if rs.R.BitLen() > size*8 || rs.S.BitLen() > size*8 {
		return nil, errors.New("signer returned an oversized ecdsa signature")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}
