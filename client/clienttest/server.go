package clienttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/streamer/streamer/protocol"
)

// Config scripts a Server.
type Config struct {
	// Token is the JWT the handshake must carry (Authorization: Bearer, or
	// ?token=); anything else is refused with HTTP 401. "" accepts all.
	Token string
	// DuplicateLive sends every live event twice and then the previous
	// version once more.
	DuplicateLive bool
	// ReverseReplay makes a subscribe replay newest first, then the whole
	// replay again oldest first, before its ack.
	ReverseReplay bool
	// Hook sees every decoded client frame first; returning true means it
	// handled the frame and the built-in behaviour is skipped.
	Hook func(c *Conn, in protocol.Inbound) bool
}

// Received is one client frame the server decoded.
type Received struct {
	Conn int // connection number, from 1 in handshake order
	In   protocol.Inbound
}

// Server is the scripted peer. Its URL is ws://127.0.0.1:port/ws.
type Server struct {
	URL string

	cfg Config
	hs  *httptest.Server

	mu        sync.Mutex
	token     string
	requests  map[string]*request
	keys      map[string]string // idempotency key → request ID
	conns     map[*Conn]struct{}
	nconns    int
	refused   int
	received  []Received
	changed   chan struct{} // closed and replaced whenever received grows
	dropAfter int           // drop the connection that sends the dropAfter-th next frame
	nrequests int
	base      time.Time
}

type request struct {
	id, action string
	events     []protocol.Outbound // version v at index v-1
	subs       map[*Conn]bool
}

func (r *request) head() int64 { return int64(len(r.events)) }

func (r *request) ended() bool {
	return len(r.events) > 0 && terminal(r.events[len(r.events)-1].Event)
}

// Conn is one accepted connection. Frames go out through a queue and a
// writer goroutine, so the server never writes while holding its lock.
type Conn struct {
	ID int
	s  *Server
	ws *websocket.Conn

	out    [][]byte // under s.mu; a nil entry means "drop the connection here"
	closed bool     // under s.mu
	wake   chan struct{}
}

// NewServer starts a server; Close it when done.
func NewServer(cfg Config) *Server {
	s := &Server{
		cfg: cfg, token: cfg.Token,
		requests: make(map[string]*request), keys: make(map[string]string),
		conns: make(map[*Conn]struct{}), changed: make(chan struct{}),
		base: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	s.hs = httptest.NewServer(mux)
	s.URL = "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/ws"
	return s
}

// Close drops every connection and stops the server.
func (s *Server) Close() {
	s.DropAll()
	s.hs.Close()
}

// SetToken changes the token later handshakes must carry.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// Handshakes reports how many handshakes were accepted and refused.
func (s *Server) Handshakes() (accepted, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconns, s.refused
}

// Received returns every client frame decoded so far, in arrival order.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// Await waits until at least n received frames satisfy match and returns
// all that do.
func (s *Server) Await(ctx context.Context, n int, match func(Received) bool) ([]Received, error) {
	for {
		s.mu.Lock()
		var got []Received
		for _, r := range s.received {
			if match(r) {
				got = append(got, r)
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return got, fmt.Errorf("awaiting %d frames, have %d: %w", n, len(got), ctx.Err())
		}
	}
}

// DropAll closes every connection abruptly.
func (s *Server) DropAll() {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Drop()
	}
}

// DropAfter arms a drop: the connection that sends the n-th next frame
// (counting every frame to every connection) is closed abruptly right after
// it, whatever it was in the middle of.
func (s *Server) DropAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter = n
}

// Create makes a request (version 1, request.submitted) without any
// connection; it returns its ID.
func (s *Server) Create(action string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createLocked(action, "").id
}

// Emit appends an event to the request's log and pushes it to every
// subscribed connection (twice and more with DuplicateLive). It returns
// the event's version.
func (s *Server) Emit(requestID, eventType string, data any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitLocked(s.requests[requestID], eventType, data, true)
}

// Append appends an event to the log without pushing it anywhere: a
// subscriber sees a gap until it re-subscribes.
func (s *Server) Append(requestID, eventType string, data any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitLocked(s.requests[requestID], eventType, data, false)
}

// Push sends the logged event of that version again to every subscriber.
func (s *Server) Push(requestID string, version int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests[requestID]
	for c := range r.subs {
		c.sendLocked(r.events[version-1])
	}
}

// Events returns a request's log as event frames.
func (s *Server) Events(requestID string) []protocol.Outbound {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.requests[requestID]; r != nil {
		return slices.Clone(r.events)
	}
	return nil
}

// Requests returns how many requests exist.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Subscribers returns how many connections follow the request.
func (s *Server) Subscribers(requestID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.requests[requestID]; r != nil {
		return len(r.subs)
	}
	return 0
}

// Send writes a frame to this connection (honouring DropAfter).
func (c *Conn) Send(f protocol.Outbound) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.sendLocked(f)
}

// Server is the server this connection belongs to.
func (c *Conn) Server() *Server { return c.s }

// Drop closes the connection abruptly.
func (c *Conn) Drop() { c.ws.CloseNow() }

// Handle runs the built-in behaviour for in (for hooks that only add to it).
func (c *Conn) Handle(in protocol.Inbound) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.handleLocked(c, in)
}

func (c *Conn) sendLocked(f protocol.Outbound) {
	if c.closed {
		return
	}
	c.out = append(c.out, f.Marshal())
	if c.s.dropAfter > 0 {
		c.s.dropAfter--
		if c.s.dropAfter == 0 {
			c.out = append(c.out, nil)
		}
	}
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writer writes the queued frames in order until the connection ends.
func (c *Conn) writer() {
	for range c.wake {
		c.s.mu.Lock()
		batch, closed := c.out, c.closed
		c.out = nil
		c.s.mu.Unlock()
		for _, b := range batch {
			if b == nil {
				c.ws.CloseNow()
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.ws.Write(ctx, websocket.MessageText, b) // a dropped client is not an error here
			cancel()
		}
		if closed {
			return
		}
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	s.mu.Lock()
	if s.token != "" && tok != s.token {
		s.refused++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"unauthorized","message":"invalid token"}}`)
		return
	}
	s.mu.Unlock()
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(protocol.MaxMessageSize)
	s.mu.Lock()
	s.nconns++
	c := &Conn{ID: s.nconns, s: s, ws: ws, wake: make(chan struct{}, 1)}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.writer()
	}()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		for _, r := range s.requests {
			delete(r.subs, c)
		}
		c.closed = true
		c.signal()
		s.mu.Unlock()
		ws.CloseNow()
		<-written
	}()
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		in, perr := protocol.Decode(data)
		if perr != nil {
			c.Send(protocol.ErrorFrame(&in, perr))
			continue
		}
		s.mu.Lock()
		s.received = append(s.received, Received{Conn: c.ID, In: in})
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		if s.cfg.Hook != nil && s.cfg.Hook(c, in) {
			continue
		}
		c.Handle(in)
	}
}

// submitLocked creates the request of in, or finds the one its
// idempotency key names (dup).
func (s *Server) submitLocked(in protocol.Inbound) (r *request, dup bool) {
	if id, ok := s.keys[in.IdempotencyKey]; ok && in.IdempotencyKey != "" {
		return s.requests[id], true
	}
	return s.createLocked(in.Action, in.IdempotencyKey), false
}

func (s *Server) createLocked(action, key string) *request {
	s.nrequests++
	r := &request{id: fmt.Sprintf("req-%d", s.nrequests), action: action, subs: make(map[*Conn]bool)}
	s.requests[r.id] = r
	if key != "" {
		s.keys[key] = r.id
	}
	s.emitLocked(r, "request.submitted", map[string]string{"action": action}, false)
	return r
}

func (s *Server) emitLocked(r *request, eventType string, data any, push bool) int64 {
	b, err := json.Marshal(data)
	if err != nil {
		panic("clienttest: encode event data: " + err.Error())
	}
	v := r.head() + 1
	t := s.base.Add(time.Duration(v) * time.Second)
	r.events = append(r.events, protocol.Outbound{Type: protocol.TypeEvent, RequestID: r.id, Version: v,
		Event: eventType, Time: &t, Data: b})
	if push {
		s.pushLocked(r, v)
	}
	return v
}

func (s *Server) pushLocked(r *request, v int64) {
	for c := range r.subs {
		c.sendLocked(r.events[v-1])
		if s.cfg.DuplicateLive {
			c.sendLocked(r.events[v-1])
			if v > 1 {
				c.sendLocked(r.events[v-2])
			}
		}
	}
}

// view is the status frame's request view.
func (r *request) view() json.RawMessage {
	v := map[string]any{"requestId": r.id, "action": r.action, "version": r.head(), "status": "queued"}
	for _, e := range r.events {
		switch e.Event {
		case "request.started":
			v["status"] = "running"
		case "request.progress":
			var d map[string]any
			_ = json.Unmarshal(e.Data, &d)
			v["status"], v["percentage"], v["message"] = "running", d["percentage"], d["message"]
		case "request.completed", "request.failed", "request.cancelled", "request.timed_out":
			v["status"] = strings.TrimPrefix(e.Event, "request.")
		}
	}
	b, _ := json.Marshal(v)
	return b
}

func terminal(t string) bool {
	switch t {
	case "request.completed", "request.failed", "request.cancelled", "request.timed_out":
		return true
	}
	return false
}
