package gateway

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
)

func nop(context.Context, awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
	return awsevents.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func TestSelectRoute(t *testing.T) {
	withDefault := map[string]Integration{"echo": nop, "$default": nop, "$connect": nop, "$disconnect": nop, "": nop}
	noDefault := map[string]Integration{"echo": nop}
	cases := []struct {
		name   string
		routes map[string]Integration
		body   string
		binary bool
		want   string
	}{
		{"action", withDefault, `{"action":"echo"}`, false, "echo"},
		{"unknown action", withDefault, `{"action":"x"}`, false, "$default"},
		{"unknown action, no $default", noDefault, `{"action":"x"}`, false, ""},
		{"invalid JSON", withDefault, `{"action":"echo"`, false, "$default"},
		{"trailing data", withDefault, `{"action":"echo"} {}`, false, "$default"},
		{"number action", withDefault, `{"action":1}`, false, "$default"},
		{"object action", withDefault, `{"action":{"name":"echo"}}`, false, "$default"},
		{"empty action", withDefault, `{"action":""}`, false, "$default"},
		{"escaped action", withDefault, `{"action":"ec\u0068o"}`, false, "echo"},
		{"duplicate key: last wins", withDefault, `{"action":"x","action":"echo"}`, false, "echo"},
		{"$connect is reserved", withDefault, `{"action":"$connect"}`, false, "$default"},
		{"$disconnect is reserved", withDefault, `{"action":"$disconnect"}`, false, "$default"},
		{"$default by name", withDefault, `{"action":"$default"}`, false, "$default"},
		{"binary", withDefault, `{"action":"echo"}`, true, "$default"},
		{"binary, no $default", noDefault, `{"action":"echo"}`, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := selectRoute(tc.routes, []byte(tc.body), tc.binary); got != tc.want {
				t.Fatalf("selectRoute(%s) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	cases := []struct {
		path      string
		kind      int
		stage, id string
	}{
		{"", pathSocket, "", ""},
		{"/", pathSocket, "", ""},
		{"/dev", pathSocket, "dev", ""},
		{"/dev/", pathSocket, "dev", ""},
		{"/@connections/abc=", pathConnection, "", "abc="},
		{"/@connections/abc%3D", pathConnection, "", "abc="},
		{"/@connections/abc%3D/", pathConnection, "", "abc="},
		{"/dev/@connections/abc=", pathConnection, "dev", "abc="},
		{"/@connections", pathUnknown, "", ""},
		{"/@connections/", pathUnknown, "", ""},
		{"/@connections/%zz", pathUnknown, "", ""},
		{"/a/b", pathUnknown, "", ""},
		{"/a/b/c/d", pathUnknown, "", ""},
		{"//", pathUnknown, "", ""},
	}
	for _, tc := range cases {
		kind, stage, id := parsePath(tc.path)
		if kind != tc.kind || stage != tc.stage || id != tc.id {
			t.Errorf("parsePath(%q) = %d %q %q, want %d %q %q", tc.path, kind, stage, id, tc.kind, tc.stage, tc.id)
		}
	}
}

// FuzzSelectRoute: route selection never panics, and picks a configured
// action only when the body is a JSON object whose "action" member is
// exactly that string.
func FuzzSelectRoute(f *testing.F) {
	for _, s := range []string{`{"action":"echo"}`, `{"action":"x"}`, `[]`, `{"action":1}`, `{"Action":"echo"}`, "\xff", `{"action":"echo"`} {
		f.Add([]byte(s), false)
	}
	routes := map[string]Integration{"echo": nop, "$default": nop, "$connect": nop}
	f.Fuzz(func(t *testing.T, body []byte, binary bool) {
		got := selectRoute(routes, body, binary)
		if got != "echo" && got != "$default" {
			t.Fatalf("selectRoute(%q) = %q", body, got)
		}
		if got == "echo" {
			var obj map[string]any
			if binary || json.Unmarshal(body, &obj) != nil || obj["action"] != "echo" {
				t.Fatalf("selectRoute(%q) chose echo", body)
			}
		}
	})
}

// FuzzParsePath: path parsing never panics and only names a connection
// (or stage) it could unescape from a single segment.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "/", "/dev", "/@connections/abc=", "/dev/@connections/abc%3D", "/a/b/c", "/@connections/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		kind, stage, id := parsePath(path)
		switch kind {
		case pathSocket:
			if id != "" {
				t.Fatalf("socket path %q has a connection %q", path, id)
			}
		case pathConnection:
			if id == "" || !strings.Contains(path, "@connections/") {
				t.Fatalf("connection path %q gives id %q", path, id)
			}
			if k, _, again := parsePath("/@connections/" + url.PathEscape(id)); k != pathConnection || again != id {
				t.Fatalf("id %q from %q does not round-trip", id, path)
			}
		case pathUnknown:
			if stage != "" || id != "" {
				t.Fatalf("unknown path %q gives %q %q", path, stage, id)
			}
		default:
			t.Fatalf("kind %d", kind)
		}
	})
}
