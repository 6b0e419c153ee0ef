// Command processor runs async requests: an EventBridge rule on
// request.submitted invokes it with the event (or a reference to it); it
// runs the handler, appending started, progress and the terminal event.
// A returned error makes EventBridge retry (then its DLQ).
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
	awslambda.Start(core.Processor.HandleEventBridge)
}
