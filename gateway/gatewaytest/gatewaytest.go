package gatewaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/streamer/streamer/gateway"
)

// Path is where the gateway is mounted.
const Path = "/ws"

// NonceParam is the query parameter Dial uses to learn the connection ID
// its $connect assigned.
const NonceParam = "gatewaytest-nonce"

// SmallBuffer is the kernel buffer size (bytes) of the server's send side
// with Options.SmallSendBuffers and of a stuck client's receive side: far
// below one 128 KiB message, so a write to a client that does not read
// cannot complete.
const SmallBuffer = 4096

// Options tune the test server.
type Options struct {
	// SmallSendBuffers gives every accepted socket a SmallBuffer send
	// buffer, so that writes to a client that does not read block within
	// a few KiB (stuck-client tests).
	SmallSendBuffers bool
}

// Server is a running gateway.
type Server struct {
	Gateway      *gateway.Gateway
	HTTPURL      string // http://127.0.0.1:PORT
	Endpoint     string // http://127.0.0.1:PORT/ws: the @connections endpoint
	WebSocketURL string // ws://127.0.0.1:PORT/ws

	mu  sync.Mutex
	ids map[string]string // nonce → connection ID
}

// Start builds a gateway from cfg and serves it until the test ends (then
// the gateway is closed, so every connection gets its $disconnect before
// the server stops). cfg's $connect, if any, is wrapped to record which
// connection ID each Dial got.
func Start(t testing.TB, cfg gateway.Config, opts Options) *Server {
	t.Helper()
	s := &Server{ids: make(map[string]string)}
	routes := make(map[string]gateway.Integration, len(cfg.Routes)+1)
	for k, v := range cfg.Routes {
		routes[k] = v
	}
	routes[gateway.RouteConnect] = s.recordID(cfg.Routes[gateway.RouteConnect])
	cfg.Routes = routes
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	mux := http.NewServeMux()
	h := http.StripPrefix(Path, g.Handler())
	mux.Handle(Path, h)
	mux.Handle(Path+"/", h)
	srv := httptest.NewUnstartedServer(mux)
	if opts.SmallSendBuffers {
		srv.Listener = smallSendListener{srv.Listener}
	}
	srv.Start()
	s.Gateway = g
	s.HTTPURL = srv.URL
	s.Endpoint = srv.URL + Path
	s.WebSocketURL = "ws" + srv.URL[len("http"):] + Path
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("gatewaytest: close gateway: %v", err)
		}
		srv.Close()
	})
	return s
}

// recordID wraps the $connect integration (nil: accept everything) to
// remember the connection ID of a handshake that carries NonceParam.
func (s *Server) recordID(next gateway.Integration) gateway.Integration {
	return func(ctx context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
		resp := awsevents.APIGatewayProxyResponse{StatusCode: http.StatusOK}
		if next != nil {
			var err error
			if resp, err = next(ctx, req); err != nil {
				return resp, err
			}
		}
		if nonce := req.QueryStringParameters[NonceParam]; nonce != "" && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			s.mu.Lock()
			s.ids[nonce] = req.RequestContext.ConnectionID
			s.mu.Unlock()
		}
		return resp, nil
	}
}

type smallSendListener struct{ net.Listener }

func (l smallSendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		tc.SetWriteBuffer(SmallBuffer)
	}
	return c, err
}

// DialOptions tune a client.
type DialOptions struct {
	Header       http.Header
	Query        url.Values
	Subprotocols []string
	// Stuck makes a client that never reads, with a SmallBuffer receive
	// buffer: writes to it block once a few KiB are in flight.
	Stuck bool
}

// Message is one message a client received.
type Message struct {
	Type websocket.MessageType
	Data []byte
}

// Client is a WebSocket client connected to the gateway.
type Client struct {
	Conn     *websocket.Conn
	Response *http.Response // the handshake response

	id       string
	stuck    bool
	msgs     chan Message
	readDone chan struct{}
	readErr  error
}

// received bounds the messages a client holds unread; past it the client
// stops reading the socket.
const received = 4096

// Dial connects a client and fails the test if the handshake fails. The
// client is closed when the test ends.
func (s *Server) Dial(t testing.TB, opts DialOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := s.DialContext(ctx, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("gatewaytest: dial (status %d): %v", status, err)
	}
	t.Cleanup(func() { c.Conn.CloseNow() })
	return c
}

// DialContext connects a client. On a refused handshake it returns the
// error and the server's response (whose StatusCode is what $connect
// answered).
func (s *Server) DialContext(ctx context.Context, opts DialOptions) (*Client, *http.Response, error) {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	q := url.Values{}
	for k, v := range opts.Query {
		q[k] = append([]string(nil), v...)
	}
	q.Set(NonceParam, hex.EncodeToString(nonce))
	dialer := &net.Dialer{}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok && err == nil && opts.Stuck {
				tc.SetReadBuffer(SmallBuffer)
			}
			return c, err
		},
	}
	ws, resp, err := websocket.Dial(ctx, s.WebSocketURL+"?"+q.Encode(), &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: transport},
		HTTPHeader:   opts.Header,
		Subprotocols: opts.Subprotocols,
	})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(-1)
	s.mu.Lock()
	id := s.ids[hex.EncodeToString(nonce)]
	s.mu.Unlock()
	if id == "" {
		ws.CloseNow()
		return nil, resp, errors.New("gatewaytest: the gateway accepted the handshake but $connect did not see it")
	}
	c := &Client{Conn: ws, Response: resp, id: id, stuck: opts.Stuck, msgs: make(chan Message, received), readDone: make(chan struct{})}
	if opts.Stuck {
		c.readErr = errors.New("gatewaytest: a stuck client does not read")
		close(c.readDone)
	} else {
		go c.read()
	}
	return c, resp, nil
}

func (c *Client) read() {
	defer close(c.readDone)
	for {
		typ, data, err := c.Conn.Read(context.Background())
		if err != nil {
			c.readErr = err
			return
		}
		c.msgs <- Message{Type: typ, Data: data}
	}
}

// ID is the connection ID the gateway assigned.
func (c *Client) ID() string { return c.id }

// Next returns the next message the client received. Once the socket has
// ended and every message was returned, it returns the read error: a
// websocket.CloseError when the server sent a close frame.
func (c *Client) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	default:
	}
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.readDone:
		select {
		case m := <-c.msgs:
			return m, nil
		default:
		}
		return Message{}, c.readErr
	case <-ctx.Done():
		return Message{}, fmt.Errorf("gatewaytest: waiting for a message: %w", ctx.Err())
	}
}

// Receive is Next's data.
func (c *Client) Receive(ctx context.Context) ([]byte, error) {
	m, err := c.Next(ctx)
	return m.Data, err
}

// Send sends data as a text message.
func (c *Client) Send(ctx context.Context, data []byte) error {
	return c.Conn.Write(ctx, websocket.MessageText, data)
}

// Close closes the socket with 1000 and the reason "bye", and returns once
// the gateway answered the close frame. A stuck client, which cannot read
// the answer, drops its TCP connection instead.
func (c *Client) Close() error {
	if c.stuck {
		return c.Conn.CloseNow()
	}
	return c.Conn.Close(websocket.StatusNormalClosure, "bye")
}

// Closed waits until the socket has ended and returns how (a
// websocket.CloseError when the server closed it with a close frame).
// Messages not yet taken with Next are discarded.
func (c *Client) Closed(ctx context.Context) error {
	for {
		_, err := c.Next(ctx)
		if err != nil {
			return err
		}
	}
}
