package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/internal/awsrest"
)

// SigningName is the SigV4 service name of the @connections API.
const SigningName = "execute-api"

// errNoConnectionID refuses a call without a connection ID, as the SDK's
// input validation does, before anything is sent.
var errNoConnectionID = errors.New("apigw: the connection id is empty")

// Poster posts to one stage's @connections API with SigV4-signed HTTP
// requests. It is safe for concurrent use.
type Poster struct {
	client *awsrest.Client
	base   string // the endpoint without one trailing slash, then "/@connections/"
	err    error  // a configuration error, returned by every call
}

var _ connections.Poster = (*Poster)(nil)

// New returns a Poster for the management endpoint of one stage:
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage} on AWS, or
// the local gateway's http://127.0.0.1:PORT/ws (a stage path and one
// trailing slash are allowed). Requests are signed for execute-api in
// cfg.Region with cfg.Credentials (any, for the local gateway) and sent
// with cfg.HTTPClient. It fails, reporting every problem, when cfg has no
// region or no credentials or endpoint is not an absolute http(s) URL
// without query or fragment.
func New(cfg aws.Config, endpoint string) (*Poster, error) {
	client, err := awsrest.New(cfg, SigningName)
	base, errEndpoint := baseURL(endpoint)
	if err := errors.Join(err, errEndpoint); err != nil {
		return nil, fmt.Errorf("apigw: %w", err)
	}
	return &Poster{client: client, base: base}, nil
}

// NewFromConfig is New for callers that cannot handle an error where they
// build the poster (the Lambdas' wiring): a Poster whose configuration is
// wrong fails every call with New's error, matching no sentinel.
func NewFromConfig(cfg aws.Config, endpoint string) *Poster {
	p, err := New(cfg, endpoint)
	if err != nil {
		return &Poster{err: err}
	}
	return p
}

// baseURL checks endpoint and returns the prefix of connection URLs. It
// joins like the SDK (smithyhttp.JoinPath): one trailing slash of the
// endpoint is dropped, so ".../ws" and ".../ws/" give the same requests.
func baseURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("endpoint %q: want http(s)://host[:port][/stage path], without user, query or fragment", u.Redacted())
	}
	return strings.TrimSuffix(endpoint, "/") + "/@connections/", nil
}

// connectionURL is the URL of one connection. The ID is escaped as the
// SDK's REST binding escapes a path label (httpbinding.EscapePath with
// separators encoded: every byte but A-Z a-z 0-9 - . _ ~ is %XX), so the
// request line and the SigV4 canonical URI are the SDK's own.
func (p *Poster) connectionURL(connectionID string) string {
	return p.base + httpbinding.EscapePath(connectionID, true)
}

var postHeader = http.Header{"Content-Type": {"application/octet-stream"}}

// Post sends data as one message to the connection (POST, the raw bytes as
// the body).
func (p *Poster) Post(ctx context.Context, connectionID string, data []byte) error {
	_, err := p.do(ctx, "post to", http.MethodPost, connectionID, postHeader, data)
	return err
}

// Info describes a live connection (GET).
func (p *Poster) Info(ctx context.Context, connectionID string) (connections.Info, error) {
	resp, err := p.do(ctx, "get", http.MethodGet, connectionID, nil, nil)
	if err != nil {
		return connections.Info{}, err
	}
	info, err := decodeInfo(resp.Body)
	if err != nil {
		return connections.Info{}, fmt.Errorf("get connection %s: %w", connectionID, err)
	}
	return info, nil
}

// Disconnect closes the connection (DELETE).
func (p *Poster) Disconnect(ctx context.Context, connectionID string) error {
	_, err := p.do(ctx, "delete", http.MethodDelete, connectionID, nil, nil)
	return err
}

// do sends one request and returns its 2xx response, or the error it
// means: a non-2xx answer is an *awsrest.APIError, wrapped with the
// sentinel its code or status means; a request that got no response is
// ErrUnavailable; a cancelled or expired ctx has no sentinel. Never
// retries.
func (p *Poster) do(ctx context.Context, op, method, connectionID string, header http.Header, body []byte) (*awsrest.Response, error) {
	if p.err != nil {
		return nil, fmt.Errorf("%s connection %s: %w", op, connectionID, p.err)
	}
	if connectionID == "" {
		return nil, fmt.Errorf("%s connection: %w", op, errNoConnectionID)
	}
	resp, err := p.client.Do(ctx, method, p.connectionURL(connectionID), header, body)
	if err != nil {
		var sendErr *awsrest.SendError
		if errors.As(err, &sendErr) {
			return nil, fmt.Errorf("%s connection %s: %w: %w", op, connectionID, connections.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("%s connection %s: %w", op, connectionID, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp, nil
	}
	apiErr := awsrest.ErrorOf(resp)
	if sentinel := sentinelOf(apiErr); sentinel != nil {
		return nil, fmt.Errorf("%s connection %s: %w: %w", op, connectionID, sentinel, apiErr)
	}
	return nil, fmt.Errorf("%s connection %s: %w", op, connectionID, apiErr)
}

// sentinelOf is the sentinel an error answer means: by its error code
// when it names one of the API's (case-insensitive, as the SDK matches),
// else by its status. 403 and other 4xx mean none.
func sentinelOf(e *awsrest.APIError) error {
	switch {
	case strings.EqualFold(e.Code, "GoneException"):
		return connections.ErrGone
	case strings.EqualFold(e.Code, "LimitExceededException"):
		return connections.ErrThrottled
	case strings.EqualFold(e.Code, "PayloadTooLargeException"):
		return connections.ErrTooLarge
	}
	switch code := e.StatusCode; {
	case code == http.StatusGone:
		return connections.ErrGone
	case code == http.StatusTooManyRequests:
		return connections.ErrThrottled
	case code == http.StatusRequestEntityTooLarge:
		return connections.ErrTooLarge
	case code >= 500:
		return connections.ErrUnavailable
	}
	return nil
}
