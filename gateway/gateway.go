package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/streamer/streamer/protocol"
)

// Gateway is a local API Gateway WebSocket API: it upgrades sockets, calls
// the configured integrations for $connect, each message and $disconnect,
// and serves the @connections management API.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // integrations' parent; cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	wg     sync.WaitGroup // one per handshake in progress or live connection
}

// New validates cfg and returns a Gateway with its defaults applied.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{
		cfg:    cfg,
		log:    cfg.Logger.With("api_id", cfg.APIID, "stage", cfg.Stage),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[string]*conn),
	}, nil
}

// Handler serves, relative to where it is mounted, the WebSocket upgrade
// on GET / (or GET /{stage}) and the management API on
// /@connections/{id} (or /{stage}/@connections/{id}).
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

// Connections is the number of live connections.
func (g *Gateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Close closes every socket with 1001 (each gets its $disconnect), refuses
// new handshakes, cancels the context of integrations in flight, and waits
// until every connection has ended. It is safe to call more than once.
func (g *Gateway) Close() error {
	g.mu.Lock()
	g.closed = true
	live := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		live = append(live, c)
	}
	g.mu.Unlock()
	for _, c := range live {
		c.closeWith(websocket.StatusGoingAway, DisconnectReasonShutdown)
	}
	g.cancel()
	g.wg.Wait()
	return nil
}

func (g *Gateway) unregister(c *conn) {
	g.mu.Lock()
	delete(g.conns, c.id)
	g.mu.Unlock()
}

func (g *Gateway) lookup(id string) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[id]
}

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	kind, stage, id := parsePath(r.URL.EscapedPath())
	if stage != "" && stage != g.cfg.Stage {
		kind = pathUnknown
	}
	switch kind {
	case pathSocket:
		g.serveSocket(w, r)
	case pathConnection:
		g.serveConnection(w, r, id)
	default:
		writeAPIError(w, http.StatusForbidden, "ForbiddenException", "Missing Authentication Token")
	}
}

// serveSocket runs one connection from its handshake to its $disconnect.
func (g *Gateway) serveSocket(w http.ResponseWriter, r *http.Request) {
	if status, err := checkUpgrade(r); err != nil {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, err.Error(), status)
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		http.Error(w, "gateway closed", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()

	now := time.Now()
	c := &conn{
		g:           g,
		id:          newConnectionID(),
		sourceIP:    remoteIP(r),
		userAgent:   r.UserAgent(),
		domain:      r.Host,
		connectedAt: now,
		wsem:        make(chan struct{}, 1),
		ready:       make(chan struct{}),
	}
	c.lastActive.Store(now.UnixNano())
	c.log = g.log.With("connection_id", c.id)
	subprotocols, ok := g.connect(w, r, c, now)
	if !ok || !g.upgrade(w, r, c, subprotocols) {
		return
	}
	g.run(c)
}

// connect calls $connect and answers a refusal. It reports whether the
// handshake may go on, and the subprotocol $connect chose.
func (g *Gateway) connect(w http.ResponseWriter, r *http.Request, c *conn, now time.Time) ([]string, bool) {
	fn, ok := g.cfg.Routes[RouteConnect]
	if !ok {
		return nil, true
	}
	req := c.connectRequest(r, now)
	rid := req.RequestContext.RequestID
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.IntegrationTimeout)
	resp, err := g.invoke(ctx, fn, req)
	cancel()
	if err != nil {
		c.log.Error("$connect integration failed", "request_id", rid, "err", err)
		writeJSON(w, http.StatusInternalServerError, apiMessage{Message: "Internal server error", ConnectionID: c.id, RequestID: rid})
		return nil, false
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.log.Info("$connect refused", "status", resp.StatusCode, "request_id", rid)
		writeIntegrationResponse(w, resp)
		return nil, false
	}
	if p := responseHeader(resp, "Sec-WebSocket-Protocol"); p != "" {
		return []string{p}, true
	}
	return nil, true
}

// upgrade registers c and completes the handshake. The connection is
// registered before the 101 goes out, so that a client that has its
// socket may be posted to at once; writes and closes wait for c.ready. A
// failure after $connect still gets its $disconnect.
func (g *Gateway) upgrade(w http.ResponseWriter, r *http.Request, c *conn, subprotocols []string) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		http.Error(w, "gateway closed", http.StatusServiceUnavailable)
		g.disconnect(c, websocket.StatusGoingAway, DisconnectReasonShutdown)
		return false
	}
	g.conns[c.id] = c
	g.mu.Unlock()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       subprotocols,
		InsecureSkipVerify: true, // API Gateway does not check Origin; $connect may
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		c.log.Warn("upgrade failed after $connect", "err", err)
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		g.unregister(c)
		close(c.ready)
		g.disconnect(c, websocket.StatusAbnormalClosure, DisconnectReasonHandshake)
		return false
	}
	ws.SetReadLimit(-1) // readLoop bounds messages itself and keeps the socket open
	c.ws = ws
	c.idle = time.AfterFunc(g.cfg.IdleTimeout, func() { c.closeWith(websocket.StatusGoingAway, DisconnectReasonIdle) })
	c.age = time.AfterFunc(g.cfg.MaxConnectionAge, func() { c.closeWith(websocket.StatusGoingAway, DisconnectReasonMaxAge) })
	close(c.ready)
	c.log.Info("connected", "source_ip", c.sourceIP)
	return true
}

// run reads the connection's messages, hands them in order to dispatch,
// and once the socket has ended (and every message was handled) calls
// $disconnect.
func (g *Gateway) run(c *conn) {
	queue := make(chan inbound, queueSize)
	processed := make(chan struct{})
	go func() {
		defer close(processed)
		for m := range queue {
			g.dispatch(c, m)
		}
	}()
	readErr := c.readLoop(queue)
	c.idle.Stop()
	c.age.Stop()
	code, reason := c.finish(readErr)
	g.unregister(c)
	close(queue)
	<-processed
	c.log.Info("disconnected", "code", int(code), "reason", reason)
	g.disconnect(c, code, reason)
}

// dispatch hands one client message to its route, in the connection's
// order, and sends the client what API Gateway would.
func (g *Gateway) dispatch(c *conn, m inbound) {
	if m.tooLarge {
		e := protocol.Errorf(protocol.CodeMessageTooLarge, "message of %d bytes exceeds the %d byte limit", m.size, g.cfg.MaxMessageSize)
		c.reply(protocol.ErrorFrame(nil, e).Marshal())
		return
	}
	route := selectRoute(g.cfg.Routes, m.data, m.binary)
	req := c.messageRequest(route, m)
	rid := req.RequestContext.RequestID
	if route == "" {
		c.reply(apiMessage{Message: "Forbidden", ConnectionID: c.id, RequestID: rid}.marshal())
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.IntegrationTimeout)
	resp, err := g.invoke(ctx, g.cfg.Routes[route], req)
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		c.log.Error("integration failed", "route", route, "request_id", rid, "err", err)
		msg := "Internal server error"
		if timedOut {
			msg = "Endpoint request timed out"
		}
		c.reply(apiMessage{Message: msg, ConnectionID: c.id, RequestID: rid}.marshal())
		return
	}
	if resp.Body == "" {
		return
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			c.log.Error("route response is not valid base64", "route", route, "request_id", rid, "err", err)
			c.reply(apiMessage{Message: "Internal server error", ConnectionID: c.id, RequestID: rid}.marshal())
			return
		}
	}
	c.reply(body)
}

// reply sends data to the client on behalf of the gateway; a connection
// that is gone by now is not an error.
func (c *conn) reply(data []byte) {
	if err := c.send(context.Background(), data, false); err != nil {
		c.log.Debug("reply not delivered", "err", err)
	}
}

// disconnect calls $disconnect, if configured. Its context survives Close.
func (g *Gateway) disconnect(c *conn, code websocket.StatusCode, reason string) {
	fn, ok := g.cfg.Routes[RouteDisconnect]
	if !ok {
		return
	}
	req := c.disconnectRequest(int(code), reason, time.Now())
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), g.cfg.IntegrationTimeout)
	defer cancel()
	if _, err := g.invoke(ctx, fn, req); err != nil {
		c.log.Error("$disconnect integration failed", "request_id", req.RequestContext.RequestID, "err", err)
	}
}

// invoke calls an integration; a panic becomes an error, as a crashed
// Lambda invocation is.
func (g *Gateway) invoke(ctx context.Context, fn Integration, req awsevents.APIGatewayWebsocketProxyRequest) (resp awsevents.APIGatewayProxyResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("integration panicked: %v", p)
		}
	}()
	return fn(ctx, req)
}

// apiMessage is the message API Gateway sends a client when a route fails.
type apiMessage struct {
	Message      string `json:"message"`
	ConnectionID string `json:"connectionId"`
	RequestID    string `json:"requestId"`
}

func (m apiMessage) marshal() []byte {
	b, _ := json.Marshal(m) // strings only: cannot fail
	return b
}

// writeIntegrationResponse answers a refused handshake with the $connect
// integration's status, headers and body. A status outside 100..599 is a
// malformed proxy response: 502, as API Gateway answers.
func writeIntegrationResponse(w http.ResponseWriter, resp awsevents.APIGatewayProxyResponse) {
	status := resp.StatusCode
	if status < 100 || status > 599 {
		status = http.StatusBadGateway
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}

// checkUpgrade reports whether r is a WebSocket handshake coder/websocket
// will accept, so $connect is only called for those.
func checkUpgrade(r *http.Request) (int, error) {
	switch {
	case !r.ProtoAtLeast(1, 1):
		return http.StatusUpgradeRequired, fmt.Errorf("websocket handshake needs HTTP/1.1, got %s", r.Proto)
	case !headerHasToken(r.Header, "Connection", "upgrade"), !headerHasToken(r.Header, "Upgrade", "websocket"):
		return http.StatusUpgradeRequired, errors.New("this URL only serves WebSocket connections")
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, fmt.Errorf("websocket handshake must be GET, got %s", r.Method)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusBadRequest, errors.New("unsupported Sec-WebSocket-Version (13 is supported)")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, errors.New("exactly one Sec-WebSocket-Key header is required")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return http.StatusBadRequest, errors.New("Sec-WebSocket-Key must be 16 bytes in base64")
	}
	return 0, nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
