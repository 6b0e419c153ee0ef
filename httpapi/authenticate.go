package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/streamer/streamer/auth"
)

// Authenticate is the bearer-token middleware of the local server: it
// verifies the token of the Authorization header ("Bearer <JWT>") with
// verify — typically the method value of an auth.Verifier, v.Verify — and
// serves next with the principal in the request context. A missing or
// refused token is 401 unauthorized with a WWW-Authenticate: Bearer
// header (error="invalid_token" and error_description, the reason, when a
// token was sent), in the API's JSON error shape, whose message names the
// reason.
func Authenticate(verify func(ctx context.Context, token string) (auth.Principal, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamer"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: ErrorDetail{Code: CodeUnauthorized,
				Message: "authentication required: send Authorization: Bearer <JWT>"}})
			return
		}
		p, err := verify(r.Context(), token)
		if err != nil {
			// The verifier's reason (e.g. "token expired", "invalid token:
			// token has invalid issuer") never contains the token; it tells
			// a client whether to refresh the token or fix it.
			slog.DebugContext(r.Context(), "bearer token refused", "path", r.URL.Path, "err", err)
			reason := strings.Map(func(c rune) rune {
				if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
					return '\''
				}
				return c
			}, err.Error())
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamer", error="invalid_token", error_description="`+reason+`"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: ErrorDetail{Code: CodeUnauthorized,
				Message: "the bearer token was refused: " + err.Error()}})
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// bearerToken extracts the token of an Authorization header value; the
// scheme is case-insensitive (RFC 9110).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
