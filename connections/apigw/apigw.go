package apigw

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamer/streamer/connections"
)

// Poster posts through an apigatewaymanagementapi client.
type Poster struct {
	client *apigatewaymanagementapi.Client
}

var _ connections.Poster = (*Poster)(nil)

// New returns a Poster over client, used as configured (including its
// retryer and endpoint).
func New(client *apigatewaymanagementapi.Client) *Poster {
	return &Poster{client: client}
}

// NewFromConfig returns a Poster for the management endpoint of one stage:
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage} on AWS, or
// the local gateway's http://127.0.0.1:PORT/ws. The SDK's retryer is
// disabled (aws.NopRetryer): a throttle or a 5xx comes back at once as
// ErrThrottled or ErrUnavailable, so the fan-out's own backoff is the only
// one, and one slow connection cannot hold a worker through the SDK's
// retries. cfg must carry credentials (any, for the local gateway):
// unsigned requests are refused with 403.
func NewFromConfig(cfg aws.Config, endpoint string) *Poster {
	return New(apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	}))
}

// Post sends data as one message to the connection.
func (p *Poster) Post(ctx context.Context, connectionID string, data []byte) error {
	if data == nil {
		data = []byte{} // the API requires the member; an empty message is allowed
	}
	_, err := p.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID),
		Data:         data,
	})
	return classify("post to", connectionID, err)
}

// Info describes a live connection.
func (p *Poster) Info(ctx context.Context, connectionID string) (connections.Info, error) {
	out, err := p.client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{
		ConnectionId: aws.String(connectionID),
	})
	if err != nil {
		return connections.Info{}, classify("get", connectionID, err)
	}
	info := connections.Info{
		ConnectedAt:  aws.ToTime(out.ConnectedAt),
		LastActiveAt: aws.ToTime(out.LastActiveAt),
	}
	if out.Identity != nil {
		info.SourceIP = aws.ToString(out.Identity.SourceIp)
		info.UserAgent = aws.ToString(out.Identity.UserAgent)
	}
	return info, nil
}

// Disconnect closes the connection.
func (p *Poster) Disconnect(ctx context.Context, connectionID string) error {
	_, err := p.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{
		ConnectionId: aws.String(connectionID),
	})
	return classify("delete", connectionID, err)
}

// classify wraps an SDK error with the sentinel it means, keeping the SDK
// error in the chain. A cancelled or expired ctx is reported as such, with
// no sentinel.
func classify(op, connectionID string, err error) error {
	if err == nil {
		return nil
	}
	if sentinel := sentinelOf(err); sentinel != nil {
		return fmt.Errorf("%s connection %s: %w: %w", op, connectionID, sentinel, err)
	}
	return fmt.Errorf("%s connection %s: %w", op, connectionID, err)
}

func sentinelOf(err error) error {
	var (
		gone    *types.GoneException
		limit   *types.LimitExceededException
		tooBig  *types.PayloadTooLargeException
		resp    *smithyhttp.ResponseError
		sendErr *smithyhttp.RequestSendError
	)
	switch {
	case errors.As(err, &gone):
		return connections.ErrGone
	case errors.As(err, &limit):
		return connections.ErrThrottled
	case errors.As(err, &tooBig):
		return connections.ErrTooLarge
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	case errors.As(err, &sendErr):
		return connections.ErrUnavailable
	case errors.As(err, &resp):
		switch code := resp.HTTPStatusCode(); {
		case code == 410:
			return connections.ErrGone
		case code == 429:
			return connections.ErrThrottled
		case code == 413:
			return connections.ErrTooLarge
		case code >= 500:
			return connections.ErrUnavailable
		}
		return nil
	}
	return nil
}
