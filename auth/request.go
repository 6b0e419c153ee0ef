package auth

import (
	"fmt"
	"strings"
)

// TokenQueryParam is the query parameter that carries the token where no
// header can be set (browsers opening a WebSocket).
const TokenQueryParam = "token"

// TokenFromRequest finds the bearer token of a request: the
// "Authorization: Bearer <token>" header (header name and scheme
// case-insensitive) or, failing that, the query parameter "token". It returns
// ErrMissingToken when neither holds a token. headers and query are the maps
// API Gateway passes (nil maps are fine).
func TokenFromRequest(headers map[string]string, query map[string]string) (string, error) {
	var other string
	for name, value := range headers {
		if !strings.EqualFold(name, "Authorization") {
			continue
		}
		scheme, tok, _ := strings.Cut(strings.TrimSpace(value), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			other = scheme
			continue
		}
		if tok = strings.TrimSpace(tok); tok != "" {
			return tok, nil
		}
	}
	if tok := strings.TrimSpace(query[TokenQueryParam]); tok != "" {
		return tok, nil
	}
	if other != "" {
		return "", fmt.Errorf("%w: authorization header is not a bearer token (scheme %s)", ErrMissingToken, quoteShort(other))
	}
	return "", ErrMissingToken
}
