// Command projector is the Lambda that keeps the views: the first of the
// two readers of the events table's DynamoDB stream (ReportBatchItemFailures
// on). It reads its configuration from the environment, wires through
// package app, and starts the Lambda runtime.
//
// Environment: EVENTS_TABLE, VIEWS_TABLE (required); AWS_REGION;
// DYNAMODB_ENDPOINT (optional override); LOG_LEVEL.
package main

import (
	"context"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/streamer/streamer/app"
)

func main() {
	ctx := context.Background()
	logger := app.NewLogger(os.Stderr, os.Getenv("LOG_LEVEL"))
	awsCfg, err := app.LoadAWSConfig(ctx, os.Getenv("AWS_REGION"), os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		logger.Error("load AWS configuration", "err", err)
		os.Exit(1)
	}
	rt, err := app.NewAWS(ctx, awsCfg, app.AWSConfig{
		EventsTable: os.Getenv("EVENTS_TABLE"),
		ViewsTable:  os.Getenv("VIEWS_TABLE"),
		Logger:      logger,
	})
	if err != nil {
		logger.Error("wire projector", "err", err)
		os.Exit(1)
	}
	awslambda.Start(rt.ProjectorHandler())
}
