// Package gateway is a local stand-in for an AWS API Gateway WebSocket
// API: it upgrades sockets, calls route integrations with exactly the
// Lambda signature and payloads (awsevents.APIGatewayWebsocketProxyRequest
// in, awsevents.APIGatewayProxyResponse out) for $connect, every message
// (routed on $request.body.action) and $disconnect, and serves the
// @connections management API wire-compatibly, so what posts to API
// Gateway posts to it unchanged: streamer's poster (connections/apigw,
// signed HTTP in the SDK's wire format) and the real
// apigatewaymanagementapi SDK client alike.
//
// The one guarantee a caller must know: $disconnect is called exactly
// once for every connection whose $connect succeeded, after every message
// of that connection has been handled, whatever ended it (client close,
// idle timeout, maximum age, DELETE, a stuck socket, Close).
//
// Deliberate divergences from API Gateway (docs/gateway.md lists them
// all): a message over MaxMessageSize is answered with a protocol error
// frame and the socket stays open; messages of one connection are handled
// one at a time, in order.
package gateway
