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

	ddbstore "github.com/streamer/streamer/events/dynamodb"
)

// awsFlags are the flags every command that talks to AWS shares.
type awsFlags struct {
	Endpoint string
	Region   string
}

func (a *awsFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	a.Endpoint = getenv("DYNAMODB_ENDPOINT")
	a.Region = getenv("AWS_REGION")
	if a.Region == "" {
		a.Region = "us-east-1"
	}
	fs.StringVar(&a.Endpoint, "endpoint", a.Endpoint, "AWS endpoint URL (moto or another local endpoint); empty for the real AWS")
	fs.StringVar(&a.Region, "region", a.Region, "AWS region")
}

// config loads the SDK configuration; with a local endpoint and no
// credentials in the environment it uses placeholder credentials, which
// local endpoints accept.
func (a *awsFlags) config(ctx context.Context, getenv func(string) string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(a.Region)}
	if a.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(a.Endpoint))
		if getenv("AWS_ACCESS_KEY_ID") == "" && getenv("AWS_PROFILE") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

func runTables(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: streamer tables create [--endpoint URL] [--region R] [--events-table NAME]")
	}
	fs := flag.NewFlagSet("tables create", flag.ContinueOnError)
	var a awsFlags
	a.register(fs, getenv)
	eventsTable := getenv("EVENTS_TABLE")
	if eventsTable == "" {
		eventsTable = "streamer-events"
	}
	fs.StringVar(&eventsTable, "events-table", eventsTable, "name of the events table")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := a.config(ctx, getenv)
	if err != nil {
		return err
	}
	client := awsdynamodb.NewFromConfig(cfg)
	if err := ddbstore.CreateTable(ctx, client, eventsTable); err != nil {
		return fmt.Errorf("events table %s: %w", eventsTable, err)
	}
	fmt.Fprintf(stdout, "table %s: ACTIVE (stream NEW_IMAGE)\n", eventsTable)
	return nil
}
