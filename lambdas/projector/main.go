// Command projector is the Lambda that keeps the views: the first of the
// two readers of the events table's DynamoDB stream (ReportBatchItemFailures
// on). After a batch's views are written it publishes the batch to
// EventBridge (when EVENT_BUS_NAME is set), so a subscriber that sees an
// event and reads the view finds it applied.
//
// Environment: EVENTS_TABLE, VIEWS_TABLE (required); EVENT_BUS_NAME,
// EVENT_SOURCE; AWS_REGION; DYNAMODB_ENDPOINT (optional override);
// LOG_LEVEL. See docs/configuration.md.
package main

import (
	"context"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/awsbus"
	"github.com/streamer/streamer/app/lambdaenv"
)

func main() {
	ctx := context.Background()
	env := app.ReadLambdaEnv(os.Getenv)
	logger := app.NewLogger(os.Stderr, env.LogLevel)
	awsCfg := lambdaenv.AWSConfig(env.Region, env.DynamoDBEndpoint)
	pub, err := awsbus.New(awsCfg, env.EventBusName, env.EventSource, logger)
	if err != nil {
		logger.Error("wire the event bus publisher", "err", err)
		os.Exit(1)
	}
	rt, err := app.NewAWS(ctx, awsCfg, app.AWSConfig{
		EventsTable: env.EventsTable, ViewsTable: env.ViewsTable, Publisher: pub, Logger: logger,
		// Each batch bootstraps the views' meta item: none at init.
		DeferBootstrap: true,
	})
	if err != nil {
		logger.Error("wire projector", "err", err)
		os.Exit(1)
	}
	awslambda.Start(rt.ProjectorHandler())
}
