// Command api is the Lambda behind the HTTP API (API Gateway HTTP API,
// payload format 2.0, JWT authorizer): request views, histories, as-of
// replays, chain verification and lists (package httpapi). It reads its
// configuration from the environment, wires through package app, and
// starts the Lambda runtime.
//
// Environment: EVENTS_TABLE, VIEWS_TABLE (required); AWS_REGION;
// DYNAMODB_ENDPOINT (optional override); LOG_LEVEL.
package main

import (
	"context"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/lambdaenv"
	"github.com/streamer/streamer/httpapi"
)

func main() {
	ctx := context.Background()
	logger := app.NewLogger(os.Stderr, os.Getenv("LOG_LEVEL"))
	awsCfg := lambdaenv.AWSConfig(os.Getenv("AWS_REGION"), os.Getenv("DYNAMODB_ENDPOINT"))
	rt, err := app.NewAWS(ctx, awsCfg, app.AWSConfig{
		EventsTable: os.Getenv("EVENTS_TABLE"),
		ViewsTable:  os.Getenv("VIEWS_TABLE"),
		Logger:      logger,
		// Reads find no views until the meta item exists: none at init.
		DeferBootstrap: true,
	})
	if err != nil {
		logger.Error("wire the AWS runtime", "err", err)
		os.Exit(1)
	}
	api, err := httpapi.New(httpapi.Config{Store: rt.Events, Reader: rt.Reader, Logger: logger.With("component", "httpapi")})
	if err != nil {
		logger.Error("wire the HTTP API", "err", err)
		os.Exit(1)
	}
	awslambda.Start(httpapi.LambdaHandler(api))
}
