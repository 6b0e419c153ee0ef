// Command disconnect is the WebSocket API's $disconnect Lambda: it records
// connection.closed with the reason API Gateway gives.
//
// Environment: EVENTS_TABLE, VIEWS_TABLE, WEBSOCKET_ENDPOINT, AWS_REGION,
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
	awslambda.Start(core.WS.Disconnect)
}
