package tests

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/protocol"
)

// rawConn is a WebSocket client that speaks frames by hand, for input no
// well-behaved client would send.
type rawConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialRaw(t *testing.T, url, token string) (*rawConn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &rawConn{t: t, c: c}, resp, nil
}

func (r *rawConn) send(msg string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next reads frames until one of type typ arrives.
func (r *rawConn) next(typ string) protocol.Outbound {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, data, err := r.c.Read(ctx)
		if err != nil {
			r.t.Fatalf("waiting for a %s frame: %v", typ, err)
		}
		var f protocol.Outbound
		if err := json.Unmarshal(data, &f); err != nil {
			r.t.Fatalf("server sent a frame that is not JSON: %q", data)
		}
		if f.Type == typ {
			return f
		}
	}
}

func (r *rawConn) expectError(msg, code string) {
	r.t.Helper()
	r.send(msg)
	f := r.next(protocol.TypeError)
	if f.Error == nil || f.Error.Code != code {
		r.t.Fatalf("after %.60q: error %+v, want code %s", msg, f.Error, code)
	}
}

// TestBadInput: every kind of bad frame gets an error frame with a stable
// code; the connection and the other clients carry on.
func TestBadInput(t *testing.T) {
	env := NewLocalEnvironment(t)
	bystander := Dial(t, env, "bob", "acme")
	r, _, err := dialRaw(t, env.URL(), env.Token(t, "alice", "acme"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cases := []struct{ name, msg, code string }{
		{"not JSON", `{"action":"echo",`, protocol.CodeInvalidJSON},
		{"JSON but not an object", `[1,2,3]`, protocol.CodeInvalidJSON},
		{"no action", `{"payload":{}}`, protocol.CodeInvalidFrame},
		{"action of the wrong type", `{"action":42}`, protocol.CodeInvalidFrame},
		{"unknown action", `{"action":"launch_missiles","payload":{}}`, protocol.CodeUnknownAction},
		{"payload failing Validate", `{"action":"echo","payload":"not an object"}`, protocol.CodeValidationFailed},
		{"subscribe without requestId", `{"action":"subscribe"}`, protocol.CodeInvalidFrame},
		{"negative fromVersion", `{"action":"subscribe","requestId":"x","fromVersion":-1}`, protocol.CodeInvalidFrame},
		{"unknown request", `{"action":"status","requestId":"0190aaaa-0000-7000-8000-000000000000"}`, protocol.CodeNotFound},
		{"oversized frame", `{"action":"echo","payload":{"blob":"` + strings.Repeat("x", 200*1024) + `"}}`, protocol.CodeMessageTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			r.expectError(tc.msg, tc.code)
			// The same connection still works.
			r.send(`{"action":"ping"}`)
			r.next(protocol.TypePong)
		})
	}
	r.t = t
	// The other client never noticed.
	res, err := bystander.Request(timeout(t, 30*time.Second), "echo", map[string]any{"still": "here"}, client.RequestOptions{})
	if err != nil || res.Status != "completed" {
		t.Fatalf("bystander echo: %v %+v", err, res)
	}
}

// TestBadTokens: the handshake is refused with 401 for every bad token,
// and nothing is recorded for it.
func TestBadTokens(t *testing.T) {
	env := NewLocalEnvironment(t)
	key := loadSigner(t, env.Stack.DevKey.Path())
	pubPEM := []byte(env.Stack.DevKey.PublicKeyPEM())
	claims := func(exp time.Time) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "tenant": "acme", "iat": time.Now().Unix()}
		if !exp.IsZero() {
			c["exp"] = exp.Unix()
		}
		return c
	}
	sign := func(method jwt.SigningMethod, c jwt.MapClaims, k any) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(k)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return s
	}
	other := devKey(t)
	otherTok, err := other.Mint(authSpec("alice", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	good := sign(jwt.SigningMethodES256, claims(time.Now().Add(time.Hour)), key)
	cases := []struct{ name, token string }{
		{"missing", ""},
		{"garbage", "not.a.jwt"},
		{"expired", sign(jwt.SigningMethodES256, claims(time.Now().Add(-time.Minute)), key)},
		{"no exp", sign(jwt.SigningMethodES256, claims(time.Time{}), key)},
		{"signed by another key", otherTok},
		{"alg none", sign(jwt.SigningMethodNone, claims(time.Now().Add(time.Hour)), jwt.UnsafeAllowNoneSignatureType)},
		{"HS256 with the public key as secret", sign(jwt.SigningMethodHS256, claims(time.Now().Add(time.Hour)), pubPEM)},
		{"tampered payload", tamper(good)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := dialRaw(t, env.URL(), tc.token)
			if err == nil {
				t.Fatal("handshake accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("handshake refused with %v, want HTTP 401", respStatus(resp))
			}
		})
	}
	// The good token works, in the header and in the query string.
	if _, _, err := dialRaw(t, env.URL(), good); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	c, err := client.Dial(context.Background(), env.URL(), client.Options{Token: good, TokenInQuery: true})
	if err != nil {
		t.Fatalf("token in the query string refused: %v", err)
	}
	c.Close()
}

func respStatus(r *http.Response) any {
	if r == nil {
		return "no response"
	}
	return r.StatusCode
}

// tamper changes the payload of a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := jwtDecode(parts[1])
	p = []byte(strings.Replace(string(p), `"alice"`, `"admin"`, 1))
	parts[1] = jwtEncode(p)
	return strings.Join(parts, ".")
}

func loadSigner(t *testing.T, path string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		t.Fatal(errors.New("dev key is not a signer"))
	}
	return s
}
