// Command fanout is the second reader of the events table's DynamoDB
// stream: it posts every request event to the connections that follow the
// request, through @connections (ReportBatchItemFailures on).
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
	rt, core, _ := app.LambdaCore(context.Background(), os.Getenv, apigwPoster)
	awslambda.Start(rt.StreamHandler(core.Fanout))
}

func apigwPoster(cfg aws.Config, endpoint string) connections.Poster {
	return apigw.NewFromConfig(cfg, endpoint)
}
