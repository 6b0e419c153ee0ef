// Command router is the WebSocket API's $default Lambda: every client
// message (handler actions, subscribe, unsubscribe, cancel, status, ping).
// Sync handlers run here; async ones are recorded as request.submitted for
// the processor. Replies go to the client through @connections.
//
// Environment: EVENTS_TABLE, VIEWS_TABLE, WEBSOCKET_ENDPOINT, AWS_REGION,
// DYNAMODB_ENDPOINT (optional), LOG_LEVEL. See docs/configuration.md.
package main

import (
	"context"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/connections/apigw"
)

func main() {
	_, core, _ := app.LambdaCore(context.Background(), os.Getenv, apigwPoster)
	awslambda.Start(core.WS.Default)
}

func apigwPoster(cfg aws.Config, endpoint string) connections.Poster {
	return apigw.NewFromConfig(cfg, endpoint)
}
