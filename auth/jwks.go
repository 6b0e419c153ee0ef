package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Why a fetch was skipped.
var (
	errRateLimited     = errors.New("key set fetched less than the minimum refetch interval ago")
	errFetchInProgress = errors.New("key set fetch in progress")
)

// jwksKey is one usable key of the set.
type jwksKey struct {
	kid string
	pub crypto.PublicKey
}

// jwksCache holds the keys of a JWKS URL. Fetches are serialized, happen
// when the set is older than refresh, and, for unknown kids, at most once
// per minRefetch. A failed fetch keeps the previous keys.
type jwksCache struct {
	url        string
	logURL     string // url without query or user info, for logs
	client     *http.Client
	refresh    time.Duration
	minRefetch time.Duration
	logger     *slog.Logger
	now        func() time.Time

	fetchMu sync.Mutex // held for a whole fetch

	mu        sync.RWMutex
	keys      []jwksKey
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch, successful or not
}

func newJWKSCache(cfg Config, now func() time.Time) *jwksCache {
	logURL := cfg.JWKSURL
	if u, err := url.Parse(cfg.JWKSURL); err == nil {
		logURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	return &jwksCache{
		url:        cfg.JWKSURL,
		logURL:     logURL,
		client:     cfg.HTTPClient,
		refresh:    cfg.JWKSRefresh,
		minRefetch: min(JWKSMinRefetch, cfg.JWKSRefresh),
		logger:     cfg.Logger,
		now:        now,
	}
}

// keysFor returns the keys that may verify a token of alg with kid (any
// key of alg's type when kid is empty), refreshing the set when it is stale
// or, rate-limited, when kid is unknown.
func (c *jwksCache) keysFor(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	c.mu.RLock()
	stale := c.now().Sub(c.fetched) >= c.refresh
	c.mu.RUnlock()
	if stale {
		// Without waiting for a fetch in progress; on failure the stale keys
		// stay in use (logged).
		_ = c.refetch(ctx, "stale", false)
	}
	if keys := c.lookup(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	if kid == "" {
		return nil, fmt.Errorf("no %s key in the key set", alg)
	}
	err := c.refetch(ctx, "unknown kid", true)
	// Even when this refetch was skipped, a concurrent one may have brought
	// the key.
	if keys := c.lookup(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unknown key id %s: %w", quoteShort(kid), err)
	}
	return nil, fmt.Errorf("unknown key id %s for %s", quoteShort(kid), alg)
}

func (c *jwksCache) lookup(kid, alg string) []crypto.PublicKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []crypto.PublicKey
	for _, k := range c.keys {
		if (kid == "" || k.kid == kid) && algOf(k.pub) == alg {
			out = append(out, k.pub)
		}
	}
	return out
}

// refetch fetches the set unless the last attempt is more recent than
// minRefetch (which also covers a fetch another goroutine just made). With
// wait false it returns at once when another fetch is in progress. The
// fetch is not cancelled with ctx (only bounded by DefaultHTTPTimeout): a
// caller that goes away must not fail, and so rate-limit, a fetch that
// others need.
func (c *jwksCache) refetch(ctx context.Context, reason string, wait bool) error {
	if wait {
		c.fetchMu.Lock()
	} else if !c.fetchMu.TryLock() {
		return errFetchInProgress
	}
	defer c.fetchMu.Unlock()
	c.mu.RLock()
	last := c.attempted
	c.mu.RUnlock()
	if !last.IsZero() && c.now().Sub(last) < c.minRefetch {
		return errRateLimited
	}
	return c.fetchLocked(context.WithoutCancel(ctx), reason)
}

// fetchLocked fetches and installs the set; the caller holds fetchMu.
func (c *jwksCache) fetchLocked(ctx context.Context, reason string) error {
	start := c.now()
	keys, skipped, err := c.get(ctx)
	c.mu.Lock()
	c.attempted = start
	if err == nil {
		c.keys, c.fetched = keys, start
	}
	c.mu.Unlock()
	if err != nil {
		c.logger.WarnContext(ctx, "jwks fetch failed", "url", c.logURL, "reason", reason, "err", err)
		return err
	}
	c.logger.InfoContext(ctx, "jwks fetched", "url", c.logURL, "reason", reason, "keys", len(keys), "skipped", skipped)
	return nil
}

// get downloads and decodes the set.
func (c *jwksCache) get(ctx context.Context) ([]jwksKey, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("jwks get: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("jwks read: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, nil, fmt.Errorf("jwks larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS decodes a JSON Web Key Set, keeping its RSA and EC P-256
// signature keys and naming the ones it skipped and why. A set without a
// usable key is an error.
func parseJWKS(data []byte) ([]jwksKey, []string, error) {
	var set jwkSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, fmt.Errorf("jwks decode: %w", err)
	}
	var (
		keys    []jwksKey
		skipped []string
	)
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %s): %v", i, quoteShort(k.Kid), err))
			continue
		}
		keys = append(keys, jwksKey{kid: k.Kid, pub: pub})
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("jwks has no usable RSA or EC P-256 signature key (%d skipped)", len(skipped))
	}
	return keys, skipped, nil
}

// quoteShort quotes an untrusted identifier for messages, cut to 64 bytes.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
