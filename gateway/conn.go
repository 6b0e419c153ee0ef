package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Disconnect reasons: requestContext.disconnectReason of a $disconnect the
// gateway caused, and (for the 1000/1001 ones) the reason of the close
// frame the client receives. A client that closes the socket itself gets
// its own close code and reason text passed through unchanged (an empty
// reason is common; a close frame without a code reports 1005).
//
// API Gateway reports "Going away" (1001) for both idle and age closes;
// ours keep that prefix and say which it was.
const (
	// DisconnectReasonIdle: no message from the client for IdleTimeout (1001).
	DisconnectReasonIdle = "Going away: idle timeout"
	// DisconnectReasonMaxAge: the connection reached MaxConnectionAge (1001).
	DisconnectReasonMaxAge = "Going away: maximum connection duration"
	// DisconnectReasonShutdown: Gateway.Close (1001).
	DisconnectReasonShutdown = "Going away: gateway shutdown"
	// DisconnectReasonDeleted: DELETE @connections/{id} (1000), as API Gateway.
	DisconnectReasonDeleted = "Connection Closed Normally"
	// DisconnectReasonWriteTimeout: a write to the socket took longer than
	// PostTimeout; the socket was dropped without a close frame (1006).
	DisconnectReasonWriteTimeout = "Write timed out"
	// DisconnectReasonWriteFailed: a write to the socket failed (1006).
	DisconnectReasonWriteFailed = "Write failed"
	// DisconnectReasonAbnormal: the socket ended without a close frame (1006).
	DisconnectReasonAbnormal = "Connection closed abnormally"
	// DisconnectReasonHandshake: $connect accepted but the upgrade failed (1006).
	DisconnectReasonHandshake = "Handshake failed"
)

// queueSize bounds the client messages read ahead of the integration that
// handles them; past it the socket is not read (TCP back-pressure).
const queueSize = 16

// Errors of a write to a connection, mapped to @connections statuses.
var (
	errGone      = errors.New("connection gone")        // 410
	errThrottled = errors.New("too many pending posts") // 429
)

// inbound is one client message.
type inbound struct {
	data     []byte
	binary   bool
	size     int64 // the message's full size (data is dropped when tooLarge)
	tooLarge bool
	at       time.Time
}

// conn is one live WebSocket connection.
type conn struct {
	g           *Gateway
	id          string
	ready       chan struct{}   // closed once the upgrade succeeded (ws set) or failed (ws nil)
	ws          *websocket.Conn // set before ready is closed
	sourceIP    string
	userAgent   string
	domain      string
	connectedAt time.Time
	lastActive  atomic.Int64 // unix nanoseconds of the last client message
	log         *slog.Logger

	wsem    chan struct{} // holds one token while a write is in progress
	pending atomic.Int64  // writes waiting for or holding wsem

	idle *time.Timer
	age  *time.Timer

	mu        sync.Mutex
	closing   bool
	code      websocket.StatusCode
	reason    string
	closeDone chan struct{} // closed when a server-initiated close handshake ended
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// closeWith starts the close handshake with code and reason, unless the
// connection is already closing. It does not wait; the read loop ends when
// the handshake does.
func (c *conn) closeWith(code websocket.StatusCode, reason string) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing, c.code, c.reason = true, code, reason
	done := make(chan struct{})
	c.closeDone = done
	c.mu.Unlock()
	c.log.Debug("closing connection", "code", int(code), "reason", reason)
	go func() {
		defer close(done)
		<-c.ready
		if c.ws == nil {
			return
		}
		if err := c.ws.Close(code, reason); err != nil {
			c.log.Debug("close handshake", "err", err)
		}
	}()
	return true
}

// abort drops the socket without a close handshake (1006) with reason,
// unless the connection is already closing (a close in progress ends the
// socket by itself, within its own timeout).
func (c *conn) abort(reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing, c.code, c.reason = true, websocket.StatusAbnormalClosure, reason
	c.mu.Unlock()
	c.log.Debug("dropping connection", "reason", reason)
	c.ws.CloseNow()
}

// finish records why the read loop ended (err, unless the server already
// decided) and waits until the socket is closed. It returns the close
// status and reason $disconnect reports.
func (c *conn) finish(err error) (websocket.StatusCode, string) {
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			c.code, c.reason = ce.Code, ce.Reason
		} else {
			c.code, c.reason = websocket.StatusAbnormalClosure, DisconnectReasonAbnormal
		}
	}
	code, reason, done := c.code, c.reason, c.closeDone
	c.mu.Unlock()
	if done != nil {
		<-done
	} else {
		c.ws.CloseNow()
	}
	return code, reason
}

// readLoop reads client messages into queue until the socket ends. A
// message over MaxMessageSize is counted while the rest of it is
// discarded, and queued as tooLarge: the socket stays open.
func (c *conn) readLoop(queue chan<- inbound) error {
	limit := int64(c.g.cfg.MaxMessageSize)
	for {
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return err
		}
		now := time.Now()
		c.lastActive.Store(now.UnixNano())
		c.idle.Reset(c.g.cfg.IdleTimeout)
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return err
		}
		m := inbound{data: data, binary: typ == websocket.MessageBinary, size: int64(len(data)), at: now}
		if m.size > limit {
			rest, err := io.Copy(io.Discard, r)
			if err != nil {
				return err
			}
			m.data, m.size, m.tooLarge = nil, m.size+rest, true
		}
		queue <- m
	}
}

// send writes one message to the socket. Writes are serialised; each may
// take at most PostTimeout, after which the socket is dropped and the
// write fails with errGone. With throttle, the write is refused with
// errThrottled when MaxPendingPosts writes are already waiting. ctx bounds
// only the wait for the socket, never a write in progress (half a message
// would break the stream).
func (c *conn) send(ctx context.Context, data []byte, throttle bool) error {
	if n := c.pending.Add(1); throttle && n > int64(c.g.cfg.MaxPendingPosts) {
		c.pending.Add(-1)
		return errThrottled
	}
	defer c.pending.Add(-1)
	select {
	case <-c.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.ws == nil {
		return errGone
	}
	select {
	case c.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.wsem }()
	if c.isClosing() {
		return errGone
	}
	typ := websocket.MessageText
	if !utf8.Valid(data) {
		typ = websocket.MessageBinary
	}
	timer := time.AfterFunc(c.g.cfg.PostTimeout, func() { c.abort(DisconnectReasonWriteTimeout) })
	err := c.ws.Write(context.Background(), typ, data)
	if !timer.Stop() {
		return fmt.Errorf("%w: write timed out after %v", errGone, c.g.cfg.PostTimeout)
	}
	if err != nil {
		c.abort(DisconnectReasonWriteFailed)
		return fmt.Errorf("%w: %v", errGone, err)
	}
	return nil
}
