// Command connect is the WebSocket API's $connect Lambda: it verifies the
// caller's JWT (header Authorization: Bearer, or ?token=) and records
// connection.opened; a bad token refuses the handshake with 401.
//
// Environment: EVENTS_TABLE, VIEWS_TABLE, WEBSOCKET_ENDPOINT, JWT_PUBLIC_KEY
// or JWT_JWKS_URL (with optional JWT_ISSUER, JWT_AUDIENCE), AWS_REGION,
// DYNAMODB_ENDPOINT (optional), LOG_LEVEL. See docs/configuration.md.
package main

import (
	"context"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/streamer/streamer/app"
)

func main() {
	_, core, _ := app.LambdaCore(context.Background(), os.Getenv, nil) // never posts: no @connections client
	awslambda.Start(core.WS.Connect)
}
