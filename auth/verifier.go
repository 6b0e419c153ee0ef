package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Authentication errors. Every error of Verify and TokenFromRequest wraps
// exactly one of them; all three mean HTTP 401. Messages name the reason,
// never the token.
var (
	// ErrMissingToken: no token was presented.
	ErrMissingToken = errors.New("missing token")
	// ErrInvalidToken: the token is malformed, not signed by a trusted key
	// with RS256/ES256, lacks a required claim, or has the wrong issuer,
	// audience or not-before.
	ErrInvalidToken = errors.New("invalid token")
	// ErrTokenExpired: the token was valid but its "exp" has passed (beyond
	// the leeway); the client should get a new one.
	ErrTokenExpired = errors.New("token expired")
)

// Verifier checks bearer JWTs. It is safe for concurrent use.
type Verifier struct {
	parser *jwt.Parser
	static []crypto.PublicKey // PublicKeyPEM mode
	jwks   *jwksCache         // JWKSURL mode
	now    func() time.Time   // the clock; tests replace it
}

// tokenClaims are the claims Verify reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	Tenant      string   `json:"tenant"`
	Permissions []string `json:"permissions"`
	Scope       string   `json:"scope"`
}

// NewVerifier validates cfg and loads its keys: it parses the PEM, or
// fetches the JWKS once (failing when it cannot), with ctx bounding that
// fetch.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	cfg = cfg.withDefaults()
	v := &Verifier{now: time.Now}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{algRS256, algES256}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	if cfg.PublicKeyPEM != "" {
		keys, err := parsePublicKeys(cfg.PublicKeyPEM)
		if err != nil { // Validate parsed it already; kept for safety
			return nil, fmt.Errorf("auth public key: %w", err)
		}
		v.static = keys
		return v, nil
	}
	v.jwks = newJWKSCache(cfg, func() time.Time { return v.now() })
	v.jwks.fetchMu.Lock()
	err := v.jwks.fetchLocked(ctx, "start")
	v.jwks.fetchMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("auth jwks: %w", err)
	}
	return v, nil
}

// Verify checks token's signature and claims and returns its principal.
// Errors wrap ErrMissingToken, ErrInvalidToken or ErrTokenExpired. A JWKS
// fetch the token causes (unknown kid) is bounded by DefaultHTTPTimeout, not
// cancelled with ctx, whose values (trace IDs) it keeps for its log line.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrMissingToken
	}
	if len(token) > MaxTokenBytes {
		return Principal{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	var c tokenClaims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return v.keyFor(ctx, t) })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		// The signature was checked before the claims: a genuine, old token.
		return Principal{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	case c.Subject == "":
		return Principal{}, fmt.Errorf("%w: missing claim sub", ErrInvalidToken)
	case c.Tenant == "":
		return Principal{}, fmt.Errorf("%w: missing claim tenant", ErrInvalidToken)
	}
	return Principal{User: c.Subject, Tenant: c.Tenant, Permissions: permissions(c.Permissions, c.Scope)}, nil
}

// keyFor returns the keys that may have signed t.
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("critical header extensions are not supported")
	}
	alg := t.Method.Alg()
	kid := ""
	if raw, ok := t.Header["kid"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, errors.New("kid header is not a string")
		}
		kid = s
	}
	var keys []crypto.PublicKey
	if v.jwks != nil {
		var err error
		if keys, err = v.jwks.keysFor(ctx, kid, alg); err != nil {
			return nil, err
		}
	} else {
		// A PEM has no key IDs: every configured key of alg's type is tried.
		for _, k := range v.static {
			if algOf(k) == alg {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("no configured %s key", alg)
		}
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set, nil
}

// permissions merges the "permissions" claim and the space-separated
// "scope" claim, in that order, without duplicates or empty entries.
func permissions(list []string, scope string) []string {
	var out []string
	for _, p := range slices.Concat(list, strings.Fields(scope)) {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
