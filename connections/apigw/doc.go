// Package apigw is the connections.Poster of API Gateway's @connections
// management API: on AWS (https://{api-id}.execute-api.{region}.amazonaws.com/{stage})
// and against the local gateway (http://127.0.0.1:PORT/ws), which answers
// the same wire protocol. Post is POST {endpoint}/@connections/{id} with
// the message as the body, Info is GET and Disconnect is DELETE, each
// SigV4-signed for execute-api in the configuration's region.
//
// It sends those requests with internal/awsrest (the SDK's signer,
// credentials and HTTP client) instead of the apigatewaymanagementapi SDK
// client, for cold starts: linking that service package costs the router
// and fan-out Lambdas its package initialisation (its endpoint tables
// among others, ~1–1.5 ms measured with GODEBUG=inittrace=1) on every cold
// start, for three small REST calls. The requests are the SDK's: the
// connection ID is escaped as the SDK escapes a path label (every byte but
// A-Z a-z 0-9 - . _ ~ percent-encoded), so the request line and the SigV4
// canonical URI are identical, and the answers are read as the SDK reads
// them. TestWireMatchesSDK checks this against the real SDK client,
// request by request, and the conformance suite (connections/postertest)
// runs over the local gateway and moto. The one leniency: Info also takes
// times as epoch seconds (moto's), besides AWS's ISO 8601 strings.
//
// The guarantee a caller must know: every error matches at most one of
// connections.ErrGone (410), ErrThrottled (429), ErrTooLarge (413) or
// ErrUnavailable (5xx, or no response at all: *awsrest.SendError) with
// errors.Is, and an error answer is still an *awsrest.APIError with
// errors.As (its Code is the x-amzn-ErrorType, e.g. "GoneException"). A
// cancelled or expired context is reported as such, with no sentinel. A
// Poster never retries: the caller (the fan-out) owns backoff.
package apigw
