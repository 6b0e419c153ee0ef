// Package httpapi is streamer's HTTP API: the request view, its full
// history (paginated), the request as it was at any moment (replayed from
// the log), the verification of its hash chain, and lists of requests from
// the views. docs/audit.md describes it and docs/openapi.yaml is its
// contract; the tests hold every response to that document.
//
// The same http.Handler serves `streamer dev` (behind Authenticate, which
// verifies a bearer token) and the api Lambda (behind LambdaHandler, which
// takes the caller from API Gateway's JWT authorizer). Either way the
// handler expects the caller's auth.Principal in the request context.
//
// The one guarantee a caller must know: a request of another tenant is
// answered exactly like a request that does not exist (404 not_found), so
// request IDs cannot be probed; a request of another user of the same
// tenant is 403 forbidden unless the caller holds audit:read.
package httpapi
