// Package awsrest sends SigV4-signed HTTP requests to an AWS service
// without the service's SDK client. It exists for cold starts: linking a
// service package of aws-sdk-go-v2 costs every Lambda start that
// package's initialisation (its schemas and endpoint tables, 1–3 ms each
// on this machine), and two of our calls are small, stable wire protocols
// — API Gateway's @connections (REST) and EventBridge's PutEvents (JSON
// 1.1) — that a signed net/http request serves exactly. Signing, the
// credentials and the HTTP client are the SDK's own (aws, aws/signer/v4,
// aws/transport/http), which every function links anyway for DynamoDB.
//
// A Client never retries: its callers own their retry policies.
package awsrest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// MaxResponseBody bounds how much of a response body is read.
const MaxResponseBody = 1 << 20

// Client signs requests for one service (its SigV4 signing name, e.g.
// "execute-api", "events") in cfg.Region with cfg.Credentials, and sends
// them with cfg.HTTPClient (the SDK's default buildable client when nil).
type Client struct {
	service string
	region  string
	creds   aws.CredentialsProvider
	http    aws.HTTPClient
	signer  *v4.Signer
	now     func() time.Time
}

// New returns a Client for service. It fails when cfg has no region or no
// credentials provider: an unsigned request is refused by every AWS
// endpoint.
func New(cfg aws.Config, service string) (*Client, error) {
	var errs []error
	if service == "" {
		errs = append(errs, errors.New("awsrest: service (the SigV4 signing name) is required"))
	}
	if cfg.Region == "" {
		errs = append(errs, errors.New("awsrest: the AWS configuration has no region"))
	}
	if cfg.Credentials == nil {
		errs = append(errs, errors.New("awsrest: the AWS configuration has no credentials provider"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = awshttp.NewBuildableClient()
	}
	return &Client{service: service, region: cfg.Region, creds: cfg.Credentials, http: hc, signer: v4.NewSigner(), now: time.Now}, nil
}

// Response is a service's answer: any status; Body is read whole (at most
// MaxResponseBody bytes).
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// SendError is a request that got no HTTP response (connection refused,
// reset, TLS failure, timeout). Retrying it may succeed, but the request
// may also have been applied.
type SendError struct{ Err error }

func (e *SendError) Error() string { return "awsrest: send request: " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Do signs and sends a request with body (nil for none) and returns the
// response whatever its status. A cancelled or expired ctx is returned as
// ctx's error (wrapped); any other failure to get a response is a
// *SendError; failing to read credentials or to build the request is
// returned as is.
func (c *Client) Do(ctx context.Context, method, url string, header http.Header, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("awsrest: build request: %w", err)
	}
	req.ContentLength = int64(len(body))
	if len(body) == 0 && method != http.MethodPost && method != http.MethodPut {
		req.Body = http.NoBody
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsrest: credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.service, c.region, c.now().UTC()); err != nil {
		return nil, fmt.Errorf("awsrest: sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("awsrest: %s %s: %w", method, req.URL.Redacted(), ctxErr)
		}
		return nil, &SendError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("awsrest: read response: %w", ctxErr)
		}
		return nil, &SendError{Err: fmt.Errorf("read response: %w", err)}
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// APIError is an error response of an AWS JSON or REST-JSON service.
type APIError struct {
	StatusCode int
	// Code is the error's shape name without namespace, e.g.
	// "GoneException", "ThrottlingException"; "" when the service named
	// none.
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = http.StatusText(e.StatusCode)
	}
	msg := fmt.Sprintf("api error %s (HTTP %d)", code, e.StatusCode)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	return msg
}

// ServerFault reports whether the service blamed itself (5xx).
func (e *APIError) ServerFault() bool { return e.StatusCode >= 500 }

// ErrorOf decodes r as an error response the way AWS's JSON protocols
// define it: the code from the X-Amzn-ErrorType header, else the body's
// "__type" or "code" member, stripped of any namespace ("ns#Code") and
// suffix ("Code:http://…"); the message from "message" or "Message". It is
// for responses with a status ≥ 300.
func ErrorOf(r *Response) *APIError {
	e := &APIError{StatusCode: r.StatusCode, RequestID: r.Header.Get("X-Amzn-Requestid")}
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(r.Body, &body) // a body that is not JSON has no code or message
	e.Code = cleanCode(r.Header.Get("X-Amzn-Errortype"))
	if e.Code == "" {
		e.Code = cleanCode(body.Type)
	}
	if e.Code == "" {
		e.Code = cleanCode(body.Code)
	}
	e.Message = body.Message
	if e.Message == "" {
		e.Message = body.MessageU
	}
	return e
}

func cleanCode(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}
