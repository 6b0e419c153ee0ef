package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults and limits of the verifier.
const (
	// DefaultJWKSRefresh is how long a fetched JWKS is used before the next
	// Verify fetches it again.
	DefaultJWKSRefresh = time.Hour
	// DefaultHTTPTimeout bounds one JWKS fetch, whatever HTTPClient says.
	DefaultHTTPTimeout = 10 * time.Second
	// JWKSMinRefetch is the least time between two JWKS fetches triggered by
	// a token whose kid is unknown (or by a failed refresh), so that tokens
	// with made-up kids cannot make the verifier hammer the JWKS endpoint. A
	// JWKSRefresh shorter than this lowers it.
	JWKSMinRefetch = 30 * time.Second
	// MaxTokenBytes is the largest token Verify decodes.
	MaxTokenBytes = 16 << 10
	// maxJWKSBytes is the largest JWKS document read.
	maxJWKSBytes = 1 << 20
)

// Config says which keys sign valid tokens and which claims they must carry.
// Exactly one of PublicKeyPEM and JWKSURL is set.
type Config struct {
	// PublicKeyPEM holds one or more PEM blocks: an RSA (2048 to 8192 bits)
	// or EC P-256 public key ("PUBLIC KEY", also "RSA PUBLIC KEY"), or a
	// certificate whose public key is used (its validity dates are not
	// checked). A token is accepted when any key of its algorithm's type
	// verifies it. Literal "\n" sequences (as some environment files store
	// newlines) are read as newlines. Env: JWT_PUBLIC_KEY.
	PublicKeyPEM string
	// JWKSURL is an http(s) URL serving a JSON Web Key Set (RSA and EC P-256
	// keys; other key types are ignored). Env: JWT_JWKS_URL.
	JWKSURL string
	// Issuer, when set, must equal the "iss" claim. Env: JWT_ISSUER.
	Issuer string
	// Audience, when set, must be one of the "aud" claim's values.
	// Env: JWT_AUDIENCE.
	Audience string
	// Leeway tolerates clock skew when checking "exp" and "nbf" ("iat" is
	// not checked). Default 0.
	Leeway time.Duration
	// HTTPClient fetches the JWKS. Default: a client with a
	// DefaultHTTPTimeout timeout; every fetch is bounded by
	// DefaultHTTPTimeout in any case.
	HTTPClient *http.Client
	// JWKSRefresh is how long a fetched key set is used before it is fetched
	// again. Default DefaultJWKSRefresh. A token with an unknown kid fetches
	// the set at once, at most once per JWKSMinRefetch.
	JWKSRefresh time.Duration
	// Logger receives JWKS fetch outcomes. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.JWKSRefresh == 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.PublicKeyPEM == "" && c.JWKSURL == "":
		errs = append(errs, errors.New("one of PublicKeyPEM (JWT_PUBLIC_KEY) and JWKSURL (JWT_JWKS_URL) is required"))
	case c.PublicKeyPEM != "" && c.JWKSURL != "":
		errs = append(errs, errors.New("PublicKeyPEM (JWT_PUBLIC_KEY) and JWKSURL (JWT_JWKS_URL) are exclusive: set one"))
	}
	if c.PublicKeyPEM != "" {
		if _, err := parsePublicKeys(c.PublicKeyPEM); err != nil {
			errs = append(errs, fmt.Errorf("PublicKeyPEM: %w", err))
		}
	}
	if c.JWKSURL != "" {
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("JWKSURL: %w", err))
		}
	}
	if c.Leeway < 0 {
		errs = append(errs, fmt.Errorf("Leeway %s is negative", c.Leeway))
	}
	if c.JWKSRefresh < 0 {
		errs = append(errs, fmt.Errorf("JWKSRefresh %s is negative", c.JWKSRefresh))
	}
	return errors.Join(errs...)
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}
