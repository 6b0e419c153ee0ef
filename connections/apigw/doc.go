// Package apigw is the connections.Poster of API Gateway's @connections
// management API, over the real apigatewaymanagementapi SDK client: on AWS
// (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) and against
// the local gateway (http://127.0.0.1:PORT/ws), which answers the same
// wire protocol.
//
// The guarantee a caller must know: every error matches at most one of
// connections.ErrGone, ErrThrottled, ErrTooLarge or ErrUnavailable with
// errors.Is, and still wraps the SDK's error (errors.As finds
// *types.GoneException and the like). A Poster from NewFromConfig never
// retries: the caller (the fan-out) owns backoff.
package apigw
