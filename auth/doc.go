// Package auth authenticates and authorizes callers.
//
// A [Verifier] turns a bearer JWT (from the WebSocket $connect request or an
// HTTP API call, see [TokenFromRequest]) into a [Principal]: user (claim
// "sub"), tenant (claim "tenant") and permissions (claim "permissions" and/or
// "scope"). Only RS256 and ES256 signatures are accepted, with keys from a
// PEM or a JWKS URL; "exp" is required, and "iss"/"aud" are checked when
// configured. [CanRead] and [CanControl] decide what a principal may do with a
// request of a tenant.
//
// The one guarantee a caller must know: every error Verify returns wraps
// exactly one of [ErrMissingToken], [ErrInvalidToken] or [ErrTokenExpired]
// (all three mean HTTP 401), and no error message or log line ever contains
// the token.
//
// [LoadOrCreateDevKey] keeps the development signing key that `streamer dev`
// and `streamer token` share; [Mint] signs tokens with any RSA or P-256
// [crypto.Signer].
package auth
