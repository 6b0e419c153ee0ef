package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/connections"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/feed/lambda"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
)

// AWSCoreConfig is the configuration of a Lambda (or a local process)
// running the core on AWS services.
type AWSCoreConfig struct {
	AWSConfig
	// WebSocketEndpoint is the @connections endpoint (WEBSOCKET_ENDPOINT):
	// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, or a
	// local gateway's http://127.0.0.1:PORT/ws.
	WebSocketEndpoint string
	// Auth verifies $connect tokens (JWT_PUBLIC_KEY or JWT_JWKS_URL, with
	// JWT_ISSUER, JWT_AUDIENCE). Zero: every $connect is refused, which is
	// right for the functions that never see a $connect.
	Auth auth.Config
	// Router holds the handlers; nil registers the demo handlers.
	Router *handler.Router
	// NewPoster builds the @connections client for WebSocketEndpoint
	// (apigw.NewFromConfig, in the functions that post: router, fanout).
	// Nil: every post fails with ErrNoPoster, which is right for the
	// functions that never post ($connect, $disconnect, the processor) and
	// keeps the API Gateway client out of their binaries.
	NewPoster func(awsCfg aws.Config, endpoint string) connections.Poster
}

// ErrNoPoster is the error of a post from a function wired without a
// @connections client (AWSCoreConfig.NewPoster nil).
var ErrNoPoster = errors.New("app: this function has no @connections client")

// NewAWSCore wires the AWS runtime and the core over it.
func NewAWSCore(ctx context.Context, awsCfg aws.Config, cfg AWSCoreConfig) (*AWS, *Core, error) {
	rt, err := NewAWS(ctx, awsCfg, cfg.AWSConfig)
	if err != nil {
		return nil, nil, err
	}
	if cfg.WebSocketEndpoint == "" {
		return nil, nil, errors.New("app: WebSocketEndpoint (WEBSOCKET_ENDPOINT) is required")
	}
	var verifier interface {
		Verify(ctx context.Context, token string) (auth.Principal, error)
	} = refuseAll{}
	if cfg.Auth.PublicKeyPEM != "" || cfg.Auth.JWKSURL != "" {
		v, err := auth.NewVerifier(ctx, cfg.Auth)
		if err != nil {
			return nil, nil, err
		}
		verifier = v
	}
	router := cfg.Router
	if router == nil {
		router = handler.NewRouter()
		if err := demo.Register(router, demo.Options{}); err != nil {
			return nil, nil, err
		}
	}
	var poster connections.Poster = noPoster{}
	if cfg.NewPoster != nil {
		poster = cfg.NewPoster(awsCfg, cfg.WebSocketEndpoint)
	}
	core, err := NewCore(CoreConfig{
		Store: rt.Events, Reader: rt.Reader, Router: router, Verifier: verifier,
		Poster: poster,
		Source: "aws", Logger: rt.log,
	})
	if err != nil {
		return nil, nil, err
	}
	return rt, core, nil
}

// StreamHandler is the Lambda handler of a DynamoDB Streams reader of the
// events table that feeds consumer c (the projector or the fan-out).
func (a *AWS) StreamHandler(c feed.Consumer) lambda.Handler {
	return lambda.NewHandler(c, ddbevents.UnmarshalStreamImage, a.log.With("consumer", c.Name()))
}

// refuseAll is the token check of a function configured without keys: no
// token is valid.
type refuseAll struct{}

func (refuseAll) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, fmt.Errorf("%w: no JWT key is configured (JWT_PUBLIC_KEY or JWT_JWKS_URL)", auth.ErrInvalidToken)
}

// noPoster is the Poster of a function wired without a @connections
// client: every call fails with ErrNoPoster.
type noPoster struct{}

func (noPoster) Post(_ context.Context, connectionID string, _ []byte) error {
	return fmt.Errorf("post to %s: %w", connectionID, ErrNoPoster)
}

func (noPoster) Info(_ context.Context, connectionID string) (connections.Info, error) {
	return connections.Info{}, fmt.Errorf("info of %s: %w", connectionID, ErrNoPoster)
}

func (noPoster) Disconnect(_ context.Context, connectionID string) error {
	return fmt.Errorf("disconnect %s: %w", connectionID, ErrNoPoster)
}
