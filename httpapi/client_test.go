package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/httpapi"
)

// The callers of the tests.
var principals = map[string]auth.Principal{
	"alice": {User: "alice", Tenant: "acme"},
	"bob":   {User: "bob", Tenant: "acme"},
	"dave":  {User: "dave", Tenant: "acme", Permissions: []string{auth.PermAuditRead}},              // acme's auditor
	"carol": {User: "carol", Tenant: "globex"},                                                      // another tenant
	"erin":  {User: "erin", Tenant: "globex", Permissions: []string{auth.PermAuditRead, "rebuild"}}, // another tenant's auditor
}

// response is what a transport received.
type response struct {
	status int
	header http.Header
	body   []byte
}

// transport sends one request as a caller ("" for none) and returns the
// response.
type transport interface {
	name() string
	do(t *testing.T, who, method, target string) response
}

// httpTransport is the local server: a real HTTP server with Authenticate
// in front of the API; each caller has a bearer token.
type httpTransport struct{ srv *httptest.Server }

func newHTTPTransport(t *testing.T, api *httpapi.API) *httpTransport {
	verify := func(_ context.Context, token string) (auth.Principal, error) {
		if who, ok := strings.CutPrefix(token, "token-of-"); ok {
			if p, ok := principals[who]; ok {
				return p, nil
			}
		}
		return auth.Principal{}, errors.New("unknown token")
	}
	srv := httptest.NewServer(httpapi.Authenticate(verify, api.Handler()))
	t.Cleanup(srv.Close)
	return &httpTransport{srv: srv}
}

func (h *httpTransport) name() string { return "http" }

func (h *httpTransport) do(t *testing.T, who, method, target string) response {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer token-of-"+who)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// lambdaTransport is the AWS path: the event API Gateway's HTTP API sends
// for the request (payload format 2.0, stage "prod", JWT authorizer claims
// as API Gateway flattens them), through LambdaHandler.
type lambdaTransport struct {
	handler func(context.Context, awsevents.APIGatewayV2HTTPRequest) (awsevents.APIGatewayV2HTTPResponse, error)
}

func (l *lambdaTransport) name() string { return "lambda" }

func (l *lambdaTransport) do(t *testing.T, who, method, target string) response {
	t.Helper()
	path, rawQuery, _ := strings.Cut(target, "?")
	ev := gatewayEvent(method, "/prod"+path, rawQuery, "prod")
	if who != "" {
		p := principals[who]
		claims := map[string]string{
			"sub": p.User, "tenant": p.Tenant, "iss": "https://issuer.example", "aud": "streamer",
			"exp": "1893456000", "iat": "1764290000",
		}
		if len(p.Permissions) > 0 {
			claims["permissions"] = "[" + strings.Join(p.Permissions, " ") + "]" // API Gateway's flattening of an array claim
		}
		ev.RequestContext.Authorizer = &awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &awsevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	// Through JSON, as the Lambda runtime delivers it.
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var in awsevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	out, err := l.handler(context.Background(), in)
	if err != nil {
		t.Fatalf("lambda handler returned an error: %v", err)
	}
	h := http.Header{}
	for k, v := range out.Headers {
		h.Set(k, v)
	}
	return response{status: out.StatusCode, header: h, body: []byte(out.Body)}
}

// gatewayEvent is the skeleton of an HTTP API event.
func gatewayEvent(method, rawPath, rawQuery, stage string) awsevents.APIGatewayV2HTTPRequest {
	ev := awsevents.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: rawPath, RawQueryString: rawQuery,
		Headers: map[string]string{"accept": "application/json", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
		RequestContext: awsevents.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", AccountID: "123456789012", Stage: stage, RequestID: "req-1", APIID: "abcdef1234",
			DomainName: "abcdef1234.execute-api.us-east-1.amazonaws.com", DomainPrefix: "abcdef1234",
			Time: "28/Nov/2026:03:00:00 +0000", TimeEpoch: 1795834800000,
			HTTP: awsevents.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: rawPath, Protocol: "HTTP/1.1", SourceIP: "203.0.113.9", UserAgent: "test",
			},
		},
	}
	if rawQuery != "" {
		ev.QueryStringParameters = map[string]string{}
		if q, err := url.ParseQuery(rawQuery); err == nil {
			for k, v := range q {
				ev.QueryStringParameters[k] = strings.Join(v, ",")
			}
		}
	}
	return ev
}
