package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/auth"
)

// Claims API Gateway's JWT authorizer passes on, and what the principal
// takes from them.
const (
	ClaimSubject     = "sub"         // Principal.User
	ClaimTenant      = "tenant"      // Principal.Tenant
	ClaimPermissions = "permissions" // Principal.Permissions (an array in the token)
	ClaimScope       = "scope"       // space-separated OAuth scopes, also permissions
)

// LambdaHandler adapts the API to the api Lambda behind an API Gateway HTTP
// API (payload format 2.0) with a JWT authorizer: each event becomes an
// http.Request for api.Handler, with the principal taken from the
// authorizer's claims (PrincipalFromJWT), and the handler's response
// becomes the Lambda response. It never returns an error: every failure is
// an HTTP response in the API's JSON error shape.
func LambdaHandler(api *API) func(context.Context, awsevents.APIGatewayV2HTTPRequest) (awsevents.APIGatewayV2HTTPResponse, error) {
	h := api.Handler()
	return func(ctx context.Context, ev awsevents.APIGatewayV2HTTPRequest) (awsevents.APIGatewayV2HTTPResponse, error) {
		rec := newRecorder()
		req, err := NewRequest(ctx, ev)
		if err != nil {
			writeJSON(rec, http.StatusBadRequest, ErrorBody{Error: ErrorDetail{Code: CodeInvalidParameter, Message: err.Error()}})
			return rec.response(false), nil
		}
		if p, ok := PrincipalFromJWT(ev.RequestContext.Authorizer); ok {
			req = req.WithContext(auth.WithPrincipal(req.Context(), p))
		}
		h.ServeHTTP(rec, req)
		return rec.response(req.Method == http.MethodHead), nil
	}
}

// NewRequest builds the http.Request of an API Gateway HTTP API event
// (payload format 2.0). The path is rawPath without the stage prefix that
// a named stage adds ("/prod/requests/1" on stage "prod" is
// "/requests/1"); the query is rawQueryString.
func NewRequest(ctx context.Context, ev awsevents.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("event has no requestContext.http.method")
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if stage := ev.RequestContext.Stage; stage != "" && stage != "$default" {
		if rest, ok := strings.CutPrefix(path, "/"+stage); ok && (rest == "" || rest[0] == '/') {
			path = rest
		}
	}
	if path == "" {
		path = "/"
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("malformed path or query: %v", err)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("body is not base64: %v", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %v", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	req.RequestURI = u.RequestURI()
	return req, nil
}

// PrincipalFromJWT builds the caller from what API Gateway's JWT authorizer
// passes on: user from "sub", tenant from "tenant", permissions from
// "permissions", "scope" and the authorizer's scopes. API Gateway passes
// every claim as a string and flattens arrays: a "permissions" claim
// ["audit:read","rebuild"] arrives as "[audit:read rebuild]"; a JSON array
// and a comma- or space-separated list are read as well. ok is false
// without a JWT authorizer, a subject or a tenant.
func PrincipalFromJWT(a *awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription) (auth.Principal, bool) {
	if a == nil || a.JWT == nil {
		return auth.Principal{}, false
	}
	c := a.JWT.Claims
	p := auth.Principal{User: c[ClaimSubject], Tenant: c[ClaimTenant]}
	if p.User == "" || p.Tenant == "" {
		return auth.Principal{}, false
	}
	for _, perm := range slices.Concat(ClaimList(c[ClaimPermissions]), strings.Fields(c[ClaimScope]), a.JWT.Scopes) {
		if perm != "" && !slices.Contains(p.Permissions, perm) {
			p.Permissions = append(p.Permissions, perm)
		}
	}
	return p, true
}

// ClaimList reads a list-valued claim as API Gateway passes it: "[a b]"
// (its flattening of a JSON array), a JSON array of strings, or a comma-
// or space-separated list.
func ClaimList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		var arr []string
		if err := json.Unmarshal([]byte(s), &arr); err == nil {
			return slices.DeleteFunc(arr, func(v string) bool { return v == "" })
		}
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// recorder collects a handler's response for the Lambda reply.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// response is the Lambda response of what was recorded; noBody drops the
// body (HEAD).
func (r *recorder) response(noBody bool) awsevents.APIGatewayV2HTTPResponse {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	resp := awsevents.APIGatewayV2HTTPResponse{StatusCode: status, Headers: make(map[string]string, len(r.header))}
	for k, vs := range r.header {
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	if !noBody {
		resp.Body = r.body.String()
	}
	return resp
}
