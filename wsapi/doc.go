// Package wsapi is the server side of the WebSocket API: the functions API
// Gateway (or the local gateway, which behaves like it) calls for $connect,
// $disconnect and every client message, with the Lambda signature
//
//	func(ctx, awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error)
//
// Connect verifies the token and appends connection.opened; Disconnect
// appends connection.closed; Default decodes a protocol frame and submits a
// request, subscribes, unsubscribes, cancels, reports status or answers a
// ping. Every frame to the client goes through connections.Poster, in
// order, never as the route response, so replies and replayed events reach
// the client in the same order on AWS and locally.
//
// The guarantee a caller must know: a subscription is loss-free. Default
// appends connection.subscribed, waits until the connection view shows it
// (from then on the fan-out posts every new event of the request to this
// connection), and only then replays the request's events from the log.
// Every event is therefore either replayed or fanned out, some possibly
// both; clients drop frames at or below the highest version they hold.
// docs/protocol.md is the contract for clients.
package wsapi
