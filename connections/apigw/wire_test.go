package apigw_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/internal/awsrest"
)

// seen is one request as a server received it.
type seen struct {
	Method, RequestURI, ContentType string
	ContentLength                   int64
	TransferEncoding                []string
	Body                            []byte
	Scope                           string // the SigV4 credential scope without its date: region/service/aws4_request
	SignatureErr                    error  // nil when the signature matches the request as received
	Status                          int    // the gateway's answer
	Answer                          []byte
}

// recordingProxy forwards every request to the gateway at target
// unchanged (request line, headers, body) and keeps what it received.
type recordingProxy struct {
	*httptest.Server
	target string
	creds  aws.Credentials

	mu   sync.Mutex
	reqs []seen
}

func newRecordingProxy(t *testing.T, target string, creds aws.Credentials) *recordingProxy {
	p := &recordingProxy{target: target, creds: creds}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s := seen{
		Method: r.Method, RequestURI: r.RequestURI, ContentType: r.Header.Get("Content-Type"),
		ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Body: body,
	}
	s.Scope, s.SignatureErr = verifySignature(r, body, p.creds)
	s.Status, s.Answer = p.forward(w, r, body)
	p.mu.Lock()
	p.reqs = append(p.reqs, s)
	p.mu.Unlock()
}

// forward sends the request on to the gateway and copies its answer back.
func (p *recordingProxy) forward(w http.ResponseWriter, r *http.Request, body []byte) (int, []byte) {
	fwd, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.RequestURI, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway, nil
	}
	fwd.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(fwd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
	return resp.StatusCode, answer
}

// last returns the request received last.
func (p *recordingProxy) last(t *testing.T) seen {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reqs) == 0 {
		t.Fatal("the proxy received no request")
	}
	return p.reqs[len(p.reqs)-1]
}

// verifySignature checks r's SigV4 signature as a server would: it signs
// the request as received (its request line, the headers it lists as
// signed, the hash of its body) again, with the same credentials, scope
// and time, and compares the Authorization headers. It returns the scope.
func verifySignature(r *http.Request, body []byte, creds aws.Credentials) (string, error) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "", fmt.Errorf("not signed: Authorization %q", auth)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // key/date/region/service/aws4_request
	if len(scope) != 5 {
		return "", fmt.Errorf("credential %q", fields["Credential"])
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", err
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.RequestURI, nil)
	if err != nil {
		return "", err
	}
	again.ContentLength = r.ContentLength
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return "", err
	}
	if got := again.Header.Get("Authorization"); got != auth {
		return "", fmt.Errorf("signature does not match the request as received:\n got  %s\n want %s", auth, got)
	}
	return strings.Join(scope[2:], "/"), nil
}

// awkwardIDs are connection IDs that need escaping. API Gateway's own IDs
// ("L0SM9cOFvHcCIhw=") need only "=", but the base64 alphabet also has
// "/" and "+", and the escaping must be the SDK's for any byte.
func awkwardIDs() []string {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []string{"abc=", "a/b+c", "é x", "100%?#&;:@!$'()*,[]", "a..b", "~-._", string(all)}
}

// TestWireMatchesSDK is the wire compatibility test: the real
// apigatewaymanagementapi SDK client and the Poster send each call for the
// same connection, through a recording proxy, to the local gateway. Both
// send the same method, request line (escaped path), content type, length
// and body, with a valid SigV4 signature for execute-api in the
// configuration's region; and the gateway answers both alike: it reads the
// same connection ID from both.
func TestWireMatchesSDK(t *testing.T) {
	ctx := context.Background()
	srv := startLocal(t)
	cfg := localConfig()
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newRecordingProxy(t, srv.HTTPURL, creds)

	for _, suffix := range []string{"", "/", "/" + gateway.DefaultStage, "/" + gateway.DefaultStage + "/"} {
		endpoint := proxy.URL + gatewaytest.Path + suffix
		sdk := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.Retryer = aws.NopRetryer{}
		})
		ours := mustNew(t, cfg, endpoint)

		// pair sends one call with each client and checks that the
		// proxy received the same request twice.
		pair := func(t *testing.T, viaSDK, viaPoster func() error) (sdkErr, posterErr error) {
			t.Helper()
			sdkErr = viaSDK()
			a := proxy.last(t)
			posterErr = viaPoster()
			b := proxy.last(t)
			if a.Method != b.Method || a.RequestURI != b.RequestURI || a.ContentType != b.ContentType ||
				a.ContentLength != b.ContentLength || fmt.Sprint(a.TransferEncoding) != fmt.Sprint(b.TransferEncoding) ||
				!bytes.Equal(a.Body, b.Body) || a.Scope != b.Scope || a.Status != b.Status {
				t.Fatalf("the requests differ:\n SDK    %s %s %q %d %v %q %s\n Poster %s %s %q %d %v %q %s",
					a.Method, a.RequestURI, a.ContentType, a.ContentLength, a.TransferEncoding, a.Body, a.Scope,
					b.Method, b.RequestURI, b.ContentType, b.ContentLength, b.TransferEncoding, b.Body, b.Scope)
			}
			if a.SignatureErr != nil || b.SignatureErr != nil {
				t.Fatalf("signatures: SDK %v; Poster %v", a.SignatureErr, b.SignatureErr)
			}
			if a.Scope != "local/execute-api/aws4_request" {
				t.Fatalf("signed for %s, want local/execute-api/aws4_request", a.Scope)
			}
			return sdkErr, posterErr
		}

		t.Run("endpoint"+suffix+"/unknown connection", func(t *testing.T) {
			for _, id := range awkwardIDs() {
				// bothGone checks that the gateway answered both 410
				// about the same, correctly decoded, connection ID.
				bothGone := func(what string, sdkErr, posterErr error) {
					t.Helper()
					var ge *types.GoneException
					var ae *awsrest.APIError
					if !errors.As(sdkErr, &ge) || !errors.Is(posterErr, connections.ErrGone) || !errors.As(posterErr, &ae) {
						t.Fatalf("%s %q: SDK %v; Poster %v; want 410 for both", what, id, sdkErr, posterErr)
					}
					proxy.mu.Lock()
					a, b := proxy.reqs[len(proxy.reqs)-2], proxy.reqs[len(proxy.reqs)-1]
					proxy.mu.Unlock()
					if !bytes.Equal(a.Answer, b.Answer) || (utf8.ValidString(id) && !strings.Contains(ae.Message, "connection "+id+" ")) {
						t.Fatalf("%s %q: the gateway read different IDs: to the SDK %s; to the Poster %s", what, id, a.Answer, b.Answer)
					}
				}
				sdkErr, posterErr := pair(t, func() error {
					_, err := sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("hello ✓")})
					return err
				}, func() error { return ours.Post(ctx, id, []byte("hello ✓")) })
				bothGone("POST", sdkErr, posterErr)
				sdkErr, posterErr = pair(t, func() error {
					_, err := sdk.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
					return err
				}, func() error { _, err := ours.Info(ctx, id); return err })
				bothGone("GET", sdkErr, posterErr)
				sdkErr, posterErr = pair(t, func() error {
					_, err := sdk.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
					return err
				}, func() error { return ours.Disconnect(ctx, id) })
				bothGone("DELETE", sdkErr, posterErr)
			}
		})

		t.Run("endpoint"+suffix+"/live connection", func(t *testing.T) {
			c := srv.Dial(t, gatewaytest.DialOptions{Header: http.Header{"User-Agent": {"wire-test"}}})
			for _, data := range [][]byte{[]byte(`{"type":"event"}`), {}, {0xff, 0x00, '\n'}} {
				sdkErr, posterErr := pair(t, func() error {
					_, err := sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(c.ID()), Data: data})
					return err
				}, func() error { return ours.Post(ctx, c.ID(), data) })
				if sdkErr != nil || posterErr != nil {
					t.Fatalf("post %q: SDK %v; Poster %v", data, sdkErr, posterErr)
				}
				for _, who := range []string{"SDK", "Poster"} {
					rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					got, err := c.Receive(rctx)
					cancel()
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("the post of the %s: received %q, %v; want %q", who, got, err, data)
					}
				}
			}

			var out *apigatewaymanagementapi.GetConnectionOutput
			var info connections.Info
			sdkErr, posterErr := pair(t, func() (err error) {
				out, err = sdk.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(c.ID())})
				return err
			}, func() (err error) { info, err = ours.Info(ctx, c.ID()); return err })
			if sdkErr != nil || posterErr != nil {
				t.Fatalf("get: SDK %v; Poster %v", sdkErr, posterErr)
			}
			if !aws.ToTime(out.ConnectedAt).Equal(info.ConnectedAt) || !aws.ToTime(out.LastActiveAt).Equal(info.LastActiveAt) ||
				aws.ToString(out.Identity.SourceIp) != info.SourceIP || aws.ToString(out.Identity.UserAgent) != info.UserAgent ||
				info.UserAgent != "wire-test" || info.ConnectedAt.IsZero() {
				t.Fatalf("the SDK read %v %v %s %s; the Poster %+v", out.ConnectedAt, out.LastActiveAt,
					aws.ToString(out.Identity.SourceIp), aws.ToString(out.Identity.UserAgent), info)
			}

			// DELETE closes the connection, so each client deletes its
			// own and the request lines differ only by the ID.
			other := srv.Dial(t, gatewaytest.DialOptions{})
			if _, err := sdk.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(c.ID())}); err != nil {
				t.Fatalf("SDK delete: %v", err)
			}
			a := proxy.last(t)
			if err := ours.Disconnect(ctx, other.ID()); err != nil {
				t.Fatalf("Poster delete: %v", err)
			}
			b := proxy.last(t)
			if a.Method != "DELETE" || strings.Replace(a.RequestURI, escapeID(c.ID()), escapeID(other.ID()), 1) != b.RequestURI ||
				a.ContentLength != b.ContentLength || len(a.Body)+len(b.Body) != 0 || a.SignatureErr != nil || b.SignatureErr != nil {
				t.Fatalf("DELETE differs: SDK %+v; Poster %+v", a, b)
			}
			for _, cl := range []*gatewaytest.Client{c, other} {
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := cl.Receive(rctx)
				timedOut := rctx.Err() != nil
				cancel()
				if err == nil || timedOut {
					t.Fatalf("connection %s did not end after DELETE: %v", cl.ID(), err)
				}
			}
		})
	}
}

// escapeID escapes a connection ID of the gateway (letters, digits, "=")
// in a path.
func escapeID(id string) string { return strings.ReplaceAll(id, "=", "%3D") }
