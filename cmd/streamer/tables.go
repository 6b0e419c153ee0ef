package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/app"
)

// awsFlags are the flags every command that talks to AWS shares.
type awsFlags struct {
	Endpoint    string
	Region      string
	EventsTable string
	ViewsTable  string
}

func (a *awsFlags) register(fs *flag.FlagSet, getenv func(string) string, endpointFlag string) {
	a.Endpoint = getenv("DYNAMODB_ENDPOINT")
	a.Region = orDefault(getenv("AWS_REGION"), "us-east-1")
	a.EventsTable = orDefault(getenv("EVENTS_TABLE"), "streamer-events")
	a.ViewsTable = orDefault(getenv("VIEWS_TABLE"), "streamer-views")
	fs.StringVar(&a.Endpoint, endpointFlag, a.Endpoint, "AWS endpoint URL (moto or another local endpoint); empty for AWS itself")
	fs.StringVar(&a.Region, "region", a.Region, "AWS region")
	fs.StringVar(&a.EventsTable, "events-table", a.EventsTable, "name of the events table")
	fs.StringVar(&a.ViewsTable, "views-table", a.ViewsTable, "name of the views table")
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// config loads the SDK configuration: keys from the environment if set,
// else placeholder credentials for a local endpoint (which accepts any),
// else the SDK's default chain (profile, SSO, instance role).
func (a *awsFlags) config(ctx context.Context, getenv func(string) string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(a.Region)}
	switch id := getenv("AWS_ACCESS_KEY_ID"); {
	case id != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))))
	case a.Endpoint != "" && getenv("AWS_PROFILE") == "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	if a.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(a.Endpoint))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

func runTables(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: streamer tables create [--endpoint URL] [--region R] [--events-table NAME] [--views-table NAME]")
	}
	fs := flag.NewFlagSet("tables create", flag.ContinueOnError)
	var a awsFlags
	a.register(fs, getenv, "endpoint")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := a.config(ctx, getenv)
	if err != nil {
		return err
	}
	if err := app.CreateTables(ctx, awsdynamodb.NewFromConfig(cfg), a.EventsTable, a.ViewsTable); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "table %s: ACTIVE (stream NEW_IMAGE)\ntable %s: ACTIVE (TTL on expiresAt)\n", a.EventsTable, a.ViewsTable)
	return nil
}
