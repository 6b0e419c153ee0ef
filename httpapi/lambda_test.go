package httpapi_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/httpapi"
	"github.com/streamer/streamer/projections"
)

var update = flag.Bool("update", false, "rewrite the golden Lambda responses in testdata/lambda")

// fixtureID is the request the fixtures in testdata/lambda ask for.
const fixtureID = "0b9c2f5e-3c1d-5a4e-9f00-1d2e3f4a5b6c"

// TestLambdaFixtures feeds LambdaHandler events captured in the exact
// shape API Gateway's HTTP API sends (payload format 2.0, JWT authorizer
// claims flattened to strings) and checks the responses: the deterministic
// ones against golden files, every one against the OpenAPI document.
func TestLambdaFixtures(t *testing.T) {
	b := sqliteBackend(t)
	b.append(t, fixtureID, 0, submitted("alice", "acme", "echo"), started(1), progress(50, "half"), completed(`{"ok":true}`))
	api, err := httpapi.New(httpapi.Config{Store: b.store, Reader: b.reader, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	handler := httpapi.LambdaHandler(api)
	sp := loadSpec(t)

	cases := []struct {
		fixture string
		status  int
		check   func(t *testing.T, body []byte)
	}{
		{"get-request.json", 200, func(t *testing.T, body []byte) {
			var v projections.RequestView
			json.Unmarshal(body, &v)
			if v.RequestID != fixtureID || v.Status != "completed" || v.Owner != "alice" || v.Version != 4 {
				t.Fatalf("view %+v", v)
			}
		}},
		{"get-events-named-stage.json", 200, func(t *testing.T, body []byte) {
			var p httpapi.HistoryPage
			json.Unmarshal(body, &p)
			if len(p.Events) != 2 || p.NextCursor == "" || p.Events[1].Type != "request.started" {
				t.Fatalf("page %+v", p)
			}
		}},
		{"get-request-auditor.json", 200, nil},
		{"get-verify-scope.json", 200, func(t *testing.T, body []byte) {
			var r httpapi.VerifyResult
			json.Unmarshal(body, &r)
			if !r.OK || r.Version != 4 {
				t.Fatalf("verify %+v", r)
			}
		}},
		{"get-request-forbidden.json", 403, nil},
		{"get-request-other-tenant.json", 404, nil},
		{"get-request-no-authorizer.json", 401, nil},
		{"get-list-bad-limit.json", 400, nil},
		{"post-request.json", 405, nil},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "lambda", c.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var ev awsevents.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			resp, err := handler(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, resp.Body)
			}
			target := strings.TrimPrefix(ev.RawPath, "/"+ev.RequestContext.Stage)
			if ev.RawQueryString != "" {
				target += "?" + ev.RawQueryString
			}
			h := http.Header{}
			for k, v := range resp.Headers {
				h.Set(k, v)
			}
			sp.check(t, ev.RequestContext.HTTP.Method, target, resp.StatusCode, h, []byte(resp.Body))
			if c.check != nil {
				c.check(t, []byte(resp.Body))
				return
			}
			if c.status == 200 {
				return
			}
			golden := filepath.Join("testdata", "lambda", "response-"+c.fixture)
			got, err := json.MarshalIndent(resp, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			jsonEq(t, want, got)
		})
	}
}

// jsonEq fails unless a and b are the same JSON value.
func jsonEq(t *testing.T, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got: %v", err)
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("JSON differs\nwant %s\ngot  %s", want, got)
	}
}

func TestPrincipalFromJWT(t *testing.T) {
	jwt := func(claims map[string]string, scopes ...string) *awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &awsevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: scopes},
		}
	}
	cases := []struct {
		name string
		in   *awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription
		want auth.Principal
		ok   bool
	}{
		{"flattened array", jwt(map[string]string{"sub": "u", "tenant": "t", "permissions": "[audit:read rebuild]"}),
			auth.Principal{User: "u", Tenant: "t", Permissions: []string{"audit:read", "rebuild"}}, true},
		{"json array", jwt(map[string]string{"sub": "u", "tenant": "t", "permissions": `["audit:read","rebuild"]`}),
			auth.Principal{User: "u", Tenant: "t", Permissions: []string{"audit:read", "rebuild"}}, true},
		{"comma list", jwt(map[string]string{"sub": "u", "tenant": "t", "permissions": "audit:read, rebuild"}),
			auth.Principal{User: "u", Tenant: "t", Permissions: []string{"audit:read", "rebuild"}}, true},
		{"single", jwt(map[string]string{"sub": "u", "tenant": "t", "permissions": "audit:read"}),
			auth.Principal{User: "u", Tenant: "t", Permissions: []string{"audit:read"}}, true},
		{"empty array", jwt(map[string]string{"sub": "u", "tenant": "t", "permissions": "[]"}),
			auth.Principal{User: "u", Tenant: "t"}, true},
		{"scope and scopes, deduplicated", jwt(map[string]string{"sub": "u", "tenant": "t", "permissions": "[rebuild]", "scope": "openid audit:read"}, "openid", "audit:read"),
			auth.Principal{User: "u", Tenant: "t", Permissions: []string{"rebuild", "openid", "audit:read"}}, true},
		{"no tenant", jwt(map[string]string{"sub": "u"}), auth.Principal{}, false},
		{"no subject", jwt(map[string]string{"tenant": "t"}), auth.Principal{}, false},
		{"no JWT", &awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{}, auth.Principal{}, false},
		{"no authorizer", nil, auth.Principal{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := httpapi.PrincipalFromJWT(c.in)
			if ok != c.ok || got.User != c.want.User || got.Tenant != c.want.Tenant || !slices.Equal(got.Permissions, c.want.Permissions) {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestNewRequest(t *testing.T) {
	ev := gatewayEvent("GET", "/prod/requests/x/events", "limit=2&asOf=2026-11-28T03%3A00%3A00Z", "prod")
	ev.Headers["authorization"] = "Bearer abc"
	r, err := httpapi.NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.URL.Path != "/requests/x/events" || r.URL.Query().Get("asOf") != "2026-11-28T03:00:00Z" ||
		r.Header.Get("Authorization") != "Bearer abc" || r.RemoteAddr != "203.0.113.9" {
		t.Fatalf("request %s %s %v %v", r.Method, r.URL, r.Header, r.RemoteAddr)
	}
	for _, c := range []struct{ raw, stage, want string }{
		{"/prod", "prod", "/"},
		{"/production/requests", "prod", "/production/requests"}, // a path that only starts like the stage
		{"/requests", "$default", "/requests"},
		{"/requests/a%2Fb", "$default", "/requests/a/b"},
	} {
		ev := gatewayEvent("GET", c.raw, "", c.stage)
		r, err := httpapi.NewRequest(context.Background(), ev)
		if err != nil || r.URL.Path != c.want {
			t.Errorf("%s on stage %s: %v %v, want %s", c.raw, c.stage, r.URL, err, c.want)
		}
	}
	ev = gatewayEvent("POST", "/requests", "", "$default")
	ev.Body, ev.IsBase64Encoded = "e30=", true
	if r, err := httpapi.NewRequest(context.Background(), ev); err != nil || r.ContentLength != 2 {
		t.Fatalf("base64 body: %v %v", r, err)
	}
	ev.Body = "%%%"
	if _, err := httpapi.NewRequest(context.Background(), ev); err == nil {
		t.Fatal("a body that is not base64 was accepted")
	}
	ev = gatewayEvent("", "/requests", "", "$default")
	if _, err := httpapi.NewRequest(context.Background(), ev); err == nil {
		t.Fatal("an event without a method was accepted")
	}
	// A path the URL parser refuses is a 400 in the API's error shape.
	ev = gatewayEvent("GET", "/requests/%zz", "", "$default")
	b := sqliteBackend(t)
	api, err := httpapi.New(httpapi.Config{Store: b.store, Reader: b.reader})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := httpapi.LambdaHandler(api)(context.Background(), ev)
	if resp.StatusCode != 400 || !strings.Contains(resp.Body, `"invalid_parameter"`) {
		t.Fatalf("bad path: %d %s", resp.StatusCode, resp.Body)
	}
}
