package apigw_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/streamer/streamer/connections/apigw"
)

// fakeHTTP is an aws.HTTPClient that answers every request itself.
type fakeHTTP func(*http.Request) *http.Response

func (f fakeHTTP) Do(r *http.Request) (*http.Response, error) { return f(r), nil }

// capture answers 200 with body and keeps the last request it got.
type capture struct {
	body []byte
	req  *http.Request
	sent []byte
}

func (c *capture) client() fakeHTTP {
	return func(r *http.Request) *http.Response {
		c.req = r
		c.sent = nil
		if r.Body != nil {
			c.sent, _ = io.ReadAll(r.Body)
		}
		return &http.Response{
			StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: r,
		}
	}
}

// pairOverFakes returns the SDK client and the Poster for endpoint, each
// over its own capture.
func pairOverFakes(t testing.TB, endpoint string) (*apigatewaymanagementapi.Client, *capture, *apigw.Poster, *capture) {
	sdkCap, ourCap := &capture{}, &capture{}
	cfg := localConfig()
	cfg.HTTPClient = sdkCap.client()
	sdk := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	})
	cfg.HTTPClient = ourCap.client()
	p, err := apigw.New(cfg, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return sdk, sdkCap, p, ourCap
}

// FuzzWireMatchesSDK: for any connection ID and message, the Poster's
// POST is the SDK's: same method, request line, content type and body.
// (TestWireMatchesSDK checks signatures and the gateway's reading.)
func FuzzWireMatchesSDK(f *testing.F) {
	f.Add("abc=", []byte("hello"), false)
	f.Add("a/b+c", []byte{}, true)
	f.Add("é x%2F", []byte{0, 0xff}, false)
	f.Fuzz(func(t *testing.T, id string, data []byte, stage bool) {
		if id == "" {
			return // both refuse it unsent
		}
		endpoint := "http://127.0.0.1:1/ws"
		if stage {
			endpoint += "/dev/"
		}
		sdk, sdkCap, p, ourCap := pairOverFakes(t, endpoint)
		ctx := context.Background()
		if _, err := sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: data}); err != nil {
			t.Fatalf("SDK: %v", err)
		}
		if err := p.Post(ctx, id, data); err != nil {
			t.Fatalf("Poster: %v", err)
		}
		a, b := sdkCap.req, ourCap.req
		if a.Method != b.Method || a.URL.RequestURI() != b.URL.RequestURI() || a.URL.Host != b.URL.Host ||
			a.Header.Get("Content-Type") != b.Header.Get("Content-Type") || !bytes.Equal(sdkCap.sent, ourCap.sent) {
			t.Fatalf("requests differ for %q:\n SDK    %s %s %q %q\n Poster %s %s %q %q", id,
				a.Method, a.URL.RequestURI(), a.Header.Get("Content-Type"), sdkCap.sent,
				b.Method, b.URL.RequestURI(), b.Header.Get("Content-Type"), ourCap.sent)
		}
	})
}

// FuzzDecodeInfo: whatever GetConnection answers with 200, Info does not
// panic, and whatever the SDK decodes, Info decodes to the same values.
// (Info also takes epoch numbers, which the SDK refuses.)
func FuzzDecodeInfo(f *testing.F) {
	f.Add([]byte(`{"connectedAt":"2024-01-20T11:55:00.123Z","identity":{"sourceIp":"127.0.0.1","userAgent":"ua"},"lastActiveAt":"2024-01-20T11:56:00.000Z"}`))
	f.Add([]byte(`{"connectedAt": 1795993438.432748, "lastActiveAt": 1795993438.432794, "identity": {"sourceIp": "192.168.0.1", "userAgent": "Moto Mocks"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Add([]byte(`{"connectedAt":null,"identity":null} trailing`))
	f.Add([]byte(`{"ConnectedAt":"x","connectedAt":"2024-01-20T11:55:00+02:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sdk, sdkCap, p, ourCap := pairOverFakes(t, "http://127.0.0.1:1/ws")
		sdkCap.body, ourCap.body = body, body
		ctx := context.Background()
		info, err := p.Info(ctx, "abc=")
		out, sdkErr := sdk.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("abc=")})
		if sdkErr != nil {
			return
		}
		if err != nil {
			t.Fatalf("the SDK decoded %q, Info did not: %v", body, err)
		}
		var ip, ua string
		if out.Identity != nil {
			ip, ua = aws.ToString(out.Identity.SourceIp), aws.ToString(out.Identity.UserAgent)
		}
		if !aws.ToTime(out.ConnectedAt).Equal(info.ConnectedAt) || !aws.ToTime(out.LastActiveAt).Equal(info.LastActiveAt) ||
			ip != info.SourceIP || ua != info.UserAgent {
			t.Fatalf("%q: the SDK read %v %v %q %q; Info %+v", body, out.ConnectedAt, out.LastActiveAt, ip, ua, info)
		}
	})
}

// TestDecodeInfo: GetConnection answers Info reads, and those it refuses.
func TestDecodeInfo(t *testing.T) {
	at := time.Date(2024, 1, 20, 11, 55, 0, 123e6, time.UTC)
	cases := []struct {
		name, body     string
		wantErr        bool
		connected      time.Time
		lastActive     time.Time
		sourceIP, user string
	}{
		{"AWS", `{"connectedAt":"2024-01-20T11:55:00.123Z","identity":{"sourceIp":"1.2.3.4","userAgent":"ua"},"lastActiveAt":"2024-01-20T11:55:00.123Z"}`, false, at, at, "1.2.3.4", "ua"},
		{"offset", `{"connectedAt":"2024-01-20T13:55:00.123+02:00"}`, false, at, time.Time{}, "", ""},
		{"moto's epoch seconds", `{"connectedAt":1705751700.123,"lastActiveAt":1705751700.1234}`, false, at, at, "", ""},
		{"members missing", `{}`, false, time.Time{}, time.Time{}, "", ""},
		{"empty body", ``, false, time.Time{}, time.Time{}, "", ""},
		{"names are exact", `{"ConnectedAt":"nonsense","Identity":5}`, false, time.Time{}, time.Time{}, "", ""},
		{"not an object", `[]`, true, time.Time{}, time.Time{}, "", ""},
		{"bad time", `{"connectedAt":"yesterday"}`, true, time.Time{}, time.Time{}, "", ""},
		{"time as a bool", `{"lastActiveAt":true}`, true, time.Time{}, time.Time{}, "", ""},
		{"epoch out of range", `{"connectedAt":1e300}`, true, time.Time{}, time.Time{}, "", ""},
		{"identity not an object", `{"identity":"1.2.3.4"}`, true, time.Time{}, time.Time{}, "", ""},
		{"source ip not a string", `{"identity":{"sourceIp":1234}}`, true, time.Time{}, time.Time{}, "", ""},
		{"truncated", `{"connectedAt":"2024-01-20T11:55:00.123Z"`, true, time.Time{}, time.Time{}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, p, c := pairOverFakes(t, "http://127.0.0.1:1/ws")
			c.body = []byte(tc.body)
			info, err := p.Info(context.Background(), "abc=")
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %q as %+v", tc.body, info)
				}
				noSentinel(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !info.ConnectedAt.Equal(tc.connected) || !info.LastActiveAt.Equal(tc.lastActive) || info.SourceIP != tc.sourceIP || info.UserAgent != tc.user {
				t.Fatalf("decoded %q as %+v", tc.body, info)
			}
		})
	}
}
