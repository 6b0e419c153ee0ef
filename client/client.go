package client

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/streamer/streamer/protocol"
)

// Client is one WebSocket connection to streamer, redialled when it drops.
// All methods are safe for concurrent use.
type Client struct {
	url    string // with token=… when Options.TokenInQuery; never logged
	token  string // to redact it from errors
	header http.Header
	opts   Options
	log    *slog.Logger
	prefix string // random; makes this client's clientRequestIds unique
	crids  atomic.Uint64

	life      context.Context // Dial's context; Close cancels it with ErrClosed
	stop      context.CancelCauseFunc
	wg        sync.WaitGroup // the reader and the writers it starts
	closeOnce sync.Once

	mu       sync.Mutex
	conn     *websocket.Conn // nil while redialling
	gen      uint64          // bumps at every connection
	err      error           // once set, the client is done and every call fails with it
	closing  bool
	calls    map[string]*call       // unanswered calls by clientRequestId
	callSeq  uint64                 // registration order, to resend in order
	subs     map[string]*follower   // unanswered subscribes by clientRequestId
	follows  map[string][]*follower // active followers by requestId
	orphans  map[string][]Event     // events of requests not yet adopted (see adopt)
	orphanN  int
	adopting int // unanswered submissions that will be followed once queued
}

// maxOrphans bounds the events kept for requests whose queued frame has not
// come yet (a fan-out may overtake the direct answer).
const maxOrphans = 256

// Dial connects to the WebSocket endpoint at rawURL (ws://, wss://, or
// http(s):// meaning the same). It makes one attempt: a failure, including
// a refused handshake (*HandshakeError; errors.Is ErrUnauthorized for 401
// and 403), is returned as is.
//
// ctx is the client's lifetime, not only the handshake's: the client
// redials after drops for as long as ctx lives, and when ctx ends the client
// closes and every call fails with ErrClosed (wrapping the context's cause).
// Bound a single handshake with Options.HandshakeTimeout instead.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("client options: %w", err)
	}
	opts = opts.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return nil, fmt.Errorf("url scheme %q: want ws, wss, http or https", u.Scheme)
	}
	header := opts.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if opts.Token != "" {
		if opts.TokenInQuery {
			q := u.Query()
			q.Set("token", opts.Token)
			u.RawQuery = q.Encode()
		} else {
			header.Set("Authorization", "Bearer "+opts.Token)
		}
	}
	c := &Client{
		url: u.String(), token: opts.Token, header: header, opts: opts, log: opts.Logger,
		prefix:  rand.Text()[:10],
		calls:   make(map[string]*call),
		subs:    make(map[string]*follower),
		follows: make(map[string][]*follower),
	}
	c.life, c.stop = context.WithCancelCause(ctx)
	conn, err := c.dial()
	if err != nil {
		c.stop(err)
		return nil, err
	}
	c.conn, c.gen = conn, 1
	c.wg.Add(1)
	go c.run(conn)
	return c, nil
}

// Close closes the connection with a normal closure and ends the client:
// pending calls fail with ErrClosed. It waits for the client's goroutines.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		conn := c.conn
		c.mu.Unlock()
		if conn != nil {
			if cerr := conn.Close(websocket.StatusNormalClosure, ""); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				err = fmt.Errorf("close: %w", cerr)
			}
		}
		c.stop(ErrClosed)
		c.wg.Wait()
		c.shutdown(ErrClosed)
	})
	return err
}

// Drop closes the socket abruptly, as a network failure would; the client
// then reconnects and resumes like after any drop. For tests and chaos.
func (c *Client) Drop() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.CloseNow()
	}
}

// Err is the error that ended the client (nil while it is usable).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// dial makes one handshake attempt.
func (c *Client) dial() (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(c.life, c.opts.HandshakeTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
		HTTPClient: c.opts.HTTPClient, HTTPHeader: c.header,
	})
	if err != nil {
		err = c.redact(err)
		if resp != nil && resp.StatusCode != 0 && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HandshakeError{StatusCode: resp.StatusCode, Message: refusalMessage(resp), Err: err}
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(c.opts.ReadLimit)
	return conn, nil
}

// run is the client's reader: it reads the connection until it fails, then
// redials and resumes, until the client ends.
func (c *Client) run(conn *websocket.Conn) {
	defer c.wg.Done()
	for {
		err := c.read(conn)
		conn.CloseNow()
		c.mu.Lock()
		c.conn = nil
		closing := c.closing
		c.mu.Unlock()
		if closing || c.life.Err() != nil {
			c.shutdown(c.doneErr())
			return
		}
		c.log.Warn("connection lost; reconnecting", "err", err)
		conn, err = c.redial()
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				c.log.Error("giving up on the connection", "err", err)
			}
			c.shutdown(err)
			return
		}
	}
}

// read dispatches the frames of conn until reading fails.
func (c *Client) read(conn *websocket.Conn) error {
	for {
		_, data, err := conn.Read(c.life)
		if err != nil {
			return err
		}
		f, err := decodeFrame(data)
		if err != nil {
			c.log.Warn("dropping undecodable frame", "err", err, "bytes", len(data))
			continue
		}
		c.dispatch(f)
	}
}

// redial reconnects under the policy; on success the connection is
// installed and everything in flight is resent.
func (c *Client) redial() (*websocket.Conn, error) {
	p := c.opts.Reconnect
	var last error
	for n := 0; p.MaxAttempts == 0 || n < p.MaxAttempts; n++ {
		t := time.NewTimer(p.backoff(n))
		select {
		case <-c.life.Done():
			t.Stop()
			return nil, c.doneErr()
		case <-t.C:
		}
		conn, err := c.dial()
		if err == nil {
			if !c.connected(conn, n+1) {
				conn.CloseNow()
				return nil, c.doneErr()
			}
			return conn, nil
		}
		if errors.Is(err, ErrUnauthorized) {
			return nil, err
		}
		if c.life.Err() != nil {
			return nil, c.doneErr()
		}
		last = err
		c.log.Warn("redial failed", "attempt", n+1, "err", err)
	}
	return nil, fmt.Errorf("%w after %d attempts: %w", ErrReconnectFailed, p.MaxAttempts, last)
}

// connected installs conn and resumes: every unanswered call is resent
// (submissions with their idempotency key) and every follower
// re-subscribes from the last version it delivered. It reports false when
// the client is closing.
func (c *Client) connected(conn *websocket.Conn, attempts int) bool {
	c.mu.Lock()
	if c.closing || c.err != nil {
		c.mu.Unlock()
		return false
	}
	c.conn = conn
	c.gen++
	gen := c.gen
	pending := make([]*call, 0, len(c.calls))
	for _, cl := range c.calls {
		if cl.sentGen != gen {
			cl.sentGen = gen
			pending = append(pending, cl)
		}
	}
	slices.SortFunc(pending, func(a, b *call) int { return cmp.Compare(a.seq, b.seq) })
	frames := make([][]byte, 0, len(pending)+len(c.follows))
	for _, cl := range pending {
		frames = append(frames, cl.frame)
	}
	nfollow := 0
	for _, fs := range c.follows {
		for _, f := range fs {
			frames = append(frames, c.resubscribeLocked(f))
			nfollow++
		}
	}
	c.mu.Unlock()
	c.log.Info("reconnected", "attempts", attempts, "resent", len(pending), "resubscribed", nfollow)
	if len(frames) > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for _, fr := range frames {
				if err := c.writeTo(conn, fr); err != nil {
					return // the reader sees the failure and resumes again
				}
			}
		}()
	}
	return true
}

// shutdown ends the client with err: pending calls and followers fail.
func (c *Client) shutdown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	c.conn = nil
	for crid, cl := range c.calls {
		delete(c.calls, crid)
		cl.done <- reply{err: c.err}
	}
	for _, fs := range c.follows {
		for _, f := range fs {
			c.endLocked(f, nil, c.err, false)
		}
	}
	clear(c.follows)
	clear(c.subs)
	c.orphans, c.orphanN = nil, 0
}

// doneErr is the error of a client whose context ended.
func (c *Client) doneErr() error {
	cause := context.Cause(c.life)
	if cause == nil || errors.Is(cause, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}

// writeTo writes one text frame on conn. A failed or timed out write closes
// conn, so the reader resumes on a new connection.
func (c *Client) writeTo(conn *websocket.Conn, frame []byte) error {
	ctx, cancel := context.WithTimeout(c.life, c.opts.WriteTimeout)
	defer cancel()
	err := conn.Write(ctx, websocket.MessageText, frame)
	if err != nil {
		c.log.Debug("write failed; dropping the connection", "err", err)
		conn.CloseNow()
	}
	return err
}

// writeAsync writes frame on the current connection, if any, without
// blocking the caller (the reader must never block on a write).
func (c *Client) writeAsync(frame []byte) {
	conn := c.conn // c.mu is held by the caller
	if conn == nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.writeTo(conn, frame)
	}()
}

func (c *Client) newCRID() string {
	return c.prefix + "-" + strconv.FormatUint(c.crids.Add(1), 10)
}

// redact removes the token from an error that may quote the URL.
func (c *Client) redact(err error) error {
	if c.token == "" || !c.opts.TokenInQuery {
		return err
	}
	msg := err.Error()
	red := strings.ReplaceAll(msg, url.QueryEscape(c.token), "REDACTED")
	red = strings.ReplaceAll(red, c.token, "REDACTED")
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// refusalMessage is the reason a refused handshake's body gives: the
// message of {"error":{"code","message"}}, else the start of the text.
func refusalMessage(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	var body struct {
		Message string `json:"message"`
		Error   struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && (body.Error.Message != "" || body.Message != "") {
		return cmp.Or(body.Error.Message, body.Message)
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	return msg
}

// decodeFrame parses one server frame. It never panics; a frame without a
// type or with a negative version is refused.
func decodeFrame(data []byte) (protocol.Outbound, error) {
	var f protocol.Outbound
	if err := json.Unmarshal(data, &f); err != nil {
		return protocol.Outbound{}, fmt.Errorf("decode frame: %w", err)
	}
	if f.Type == "" {
		return protocol.Outbound{}, errors.New("decode frame: missing type")
	}
	if f.Version < 0 {
		return protocol.Outbound{}, fmt.Errorf("decode frame: negative version %d", f.Version)
	}
	return f, nil
}
