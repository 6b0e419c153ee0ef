package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamer/streamer/app/lambdaenv"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/handler"
)

// LambdaEnv names every environment variable a Lambda of streamer reads
// (docs/configuration.md is the reference). The mains pass os.Getenv, so
// the environment is read in one place and tests can pass a map.
type LambdaEnv struct {
	Region            string // AWS_REGION
	DynamoDBEndpoint  string // DYNAMODB_ENDPOINT (optional override, e.g. moto)
	EventsTable       string // EVENTS_TABLE
	ViewsTable        string // VIEWS_TABLE
	EventBusName      string // EVENT_BUS_NAME (projector: publish after projecting)
	EventSource       string // EVENT_SOURCE (default "streamer")
	WebSocketEndpoint string // WEBSOCKET_ENDPOINT
	LogLevel          string // LOG_LEVEL
	Auth              auth.Config
}

// ReadLambdaEnv reads the environment through getenv.
func ReadLambdaEnv(getenv func(string) string) LambdaEnv {
	return LambdaEnv{
		Region:            getenv("AWS_REGION"),
		DynamoDBEndpoint:  getenv("DYNAMODB_ENDPOINT"),
		EventsTable:       getenv("EVENTS_TABLE"),
		ViewsTable:        viewsTable(getenv),
		EventBusName:      getenv("EVENT_BUS_NAME"),
		EventSource:       getenv("EVENT_SOURCE"),
		WebSocketEndpoint: getenv("WEBSOCKET_ENDPOINT"),
		LogLevel:          getenv("LOG_LEVEL"),
		Auth: auth.Config{
			PublicKeyPEM: getenv("JWT_PUBLIC_KEY"),
			JWKSURL:      getenv("JWT_JWKS_URL"),
			Issuer:       getenv("JWT_ISSUER"),
			Audience:     getenv("JWT_AUDIENCE"),
		},
	}
}

// viewsTable is VIEWS_TABLE. The origin project kept requests and
// connections in two tables (REQUESTS_TABLE, CONNECTIONS_TABLE); here both
// views live in the one views table, so either of those names is taken as
// the views table when VIEWS_TABLE is unset (they must then name the same
// table; Validate reports it otherwise).
func viewsTable(getenv func(string) string) string {
	if v := getenv("VIEWS_TABLE"); v != "" {
		return v
	}
	if v := getenv("REQUESTS_TABLE"); v != "" {
		return v
	}
	return getenv("CONNECTIONS_TABLE")
}

// Validate reports every configuration problem of the environment at once.
func (e LambdaEnv) Validate(getenv func(string) string) error {
	var errs []error
	r, c := getenv("REQUESTS_TABLE"), getenv("CONNECTIONS_TABLE")
	if getenv("VIEWS_TABLE") == "" && r != "" && c != "" && r != c {
		errs = append(errs, fmt.Errorf("REQUESTS_TABLE (%s) and CONNECTIONS_TABLE (%s) differ: streamer keeps both views in one table; set VIEWS_TABLE", r, c))
	}
	return errors.Join(errs...)
}

// LambdaCore wires a Lambda's core from its environment with the demo
// handlers; it logs and exits on a configuration error, as a Lambda's init
// should. newPoster builds the @connections client
// (AWSCoreConfig.NewPoster): apigw.NewFromConfig in the functions that
// post, nil in the others.
func LambdaCore(ctx context.Context, getenv func(string) string, newPoster func(aws.Config, string) connections.Poster) (*AWS, *Core, *slog.Logger) {
	return LambdaCoreWithRouter(ctx, getenv, newPoster, nil)
}

// LambdaCoreWithRouter is LambdaCore with your handlers: the router and
// processor Lambdas of a deployment that runs its own handlers call it
// with the same router (nil: the demo handlers).
func LambdaCoreWithRouter(ctx context.Context, getenv func(string) string, newPoster func(aws.Config, string) connections.Poster, router *handler.Router) (*AWS, *Core, *slog.Logger) {
	env := ReadLambdaEnv(getenv)
	logger := NewLogger(os.Stderr, env.LogLevel)
	if err := env.Validate(getenv); err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	awsCfg := lambdaenv.AWSConfig(env.Region, env.DynamoDBEndpoint)
	// EventBusName is the projector's (it wires itself): none of the core
	// functions publishes.
	rt, core, err := NewAWSCore(ctx, awsCfg, AWSCoreConfig{
		AWSConfig: AWSConfig{
			EventsTable: env.EventsTable, ViewsTable: env.ViewsTable, Logger: logger, DeferBootstrap: true,
		},
		WebSocketEndpoint: env.WebSocketEndpoint,
		Auth:              env.Auth,
		NewPoster:         newPoster,
		Router:            router,
	})
	if err != nil {
		logger.Error("wire the core", "err", err)
		os.Exit(1)
	}
	return rt, core, logger
}
