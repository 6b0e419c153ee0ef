package wsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/protocol"
)

// appendRetries bounds the guarded appends of one operation that lose to a
// concurrent writer of the same stream (each retry re-reads the head).
const appendRetries = 8

// API is the WebSocket API's server side. Its methods have the Lambda
// signature of API Gateway WebSocket routes; it is safe for concurrent use.
type API struct {
	cfg      Config
	log      *slog.Logger
	conns    *lru[string, connState]   // connection ID → log fold
	requests *lru[string, requestInfo] // request ID → tenant, owner
}

// New returns an API; cfg's zero optional fields take the defaults.
func New(cfg Config) (*API, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &API{
		cfg:      cfg,
		log:      cfg.Logger,
		conns:    newLRU[string, connState](cfg.CacheSize),
		requests: newLRU[string, requestInfo](cfg.CacheSize),
	}, nil
}

// Connect is the $connect route: it verifies the caller's token (from the
// Authorization header or the token query parameter) and records
// connection.opened with the caller's user, tenant and permissions. An
// invalid or missing token refuses the handshake with 401 and records
// nothing.
func (a *API) Connect(ctx context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
	connID := req.RequestContext.ConnectionID
	log := a.log.With("connection_id", connID, "route", "$connect")
	if connID == "" {
		log.ErrorContext(ctx, "wsapi: $connect without a connection ID")
		return errorResponse(http.StatusBadRequest, protocol.Errorf(protocol.CodeInvalidFrame, "no connection ID")), nil
	}
	token, err := a.cfg.TokenFromRequest(req.Headers, req.QueryStringParameters)
	if err != nil || token == "" {
		log.InfoContext(ctx, "wsapi: connect refused: no token", "err", err)
		return errorResponse(http.StatusUnauthorized, protocol.Errorf(protocol.CodeUnauthorized, "a token is required: Authorization: Bearer <token> or ?token=<token>")), nil
	}
	p, err := a.cfg.Verifier.Verify(ctx, token)
	if err == nil && p.User == "" {
		err = errors.New("token names no user")
	}
	if err != nil {
		log.InfoContext(ctx, "wsapi: connect refused: invalid token", "err", err)
		msg := "invalid token"
		if errors.Is(err, auth.ErrTokenExpired) {
			msg = "token expired"
		}
		return errorResponse(http.StatusUnauthorized, protocol.Errorf(protocol.CodeUnauthorized, "%s", msg)), nil
	}
	log = log.With("user", p.User, "tenant", p.Tenant)
	opened := events.Opened{User: p.User, Tenant: p.Tenant, Source: sourceSummary(req), Permissions: p.Permissions}
	meta := events.Meta{Actor: p.User, Tenant: p.Tenant, CorrelationID: connID, CausationID: req.RequestContext.RequestID,
		TraceID: header(req.Headers, "X-Amzn-Trace-Id"), Source: a.cfg.Source}
	e, err := events.New(events.ConnectionOpened, opened, meta)
	if err != nil {
		log.ErrorContext(ctx, "wsapi: build connection.opened", "err", err)
		return errorResponse(http.StatusInternalServerError, protocol.Errorf(protocol.CodeInternal, "internal error")), nil
	}
	stored, err := a.cfg.Store.Append(ctx, events.ConnectionStream(connID), 0, e)
	if err != nil {
		pe := a.refusal(ctx, log, err)
		status := http.StatusInternalServerError
		if pe.Retryable {
			status = http.StatusServiceUnavailable
		}
		if errors.Is(err, events.ErrVersionConflict) {
			log.ErrorContext(ctx, "wsapi: connection ID already used", "err", err)
			pe = protocol.Errorf(protocol.CodeInternal, "connection ID already used")
			status = http.StatusInternalServerError
		}
		return errorResponse(status, pe), nil
	}
	st := connState{principal: auth.Principal{User: p.User, Tenant: p.Tenant, Permissions: p.Permissions}}
	if st.view, err = projections.ApplyConnection(st.view, stored[0], projections.TTL{}); err == nil {
		a.conns.put(connID, st, nil)
	}
	log.InfoContext(ctx, "wsapi: connected")
	return awsevents.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// Disconnect is the $disconnect route: it records connection.closed with
// the reason the gateway gives (closeReason). A connection already closed
// — the fan-out records "gone" when @connections answers 410 — or never
// opened is left as it is.
func (a *API) Disconnect(ctx context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
	connID := req.RequestContext.ConnectionID
	reason := closeReason(req.RequestContext)
	log := a.log.With("connection_id", connID, "route", "$disconnect", "reason", reason)
	ok := awsevents.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	defer a.conns.remove(connID)
	for range appendRetries {
		st, err := a.connection(ctx, connID, true)
		switch {
		case errors.Is(err, errUnknownConnection):
			log.InfoContext(ctx, "wsapi: disconnect of an unknown connection")
			return ok, nil
		case err != nil:
			a.refusal(ctx, log, err)
			return awsevents.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
		case !st.view.Open():
			log.InfoContext(ctx, "wsapi: connection already closed", "close_reason", st.view.CloseReason)
			return ok, nil
		}
		e, err := events.New(events.ConnectionClosed, events.Closed{Reason: reason},
			events.Meta{Actor: st.principal.User, Tenant: st.principal.Tenant, CorrelationID: connID,
				CausationID: req.RequestContext.RequestID, Source: a.cfg.Source})
		if err != nil {
			a.refusal(ctx, log, err)
			return awsevents.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
		}
		_, err = a.cfg.Store.Append(ctx, events.ConnectionStream(connID), st.view.Version, e)
		switch {
		case err == nil:
			log.InfoContext(ctx, "wsapi: disconnected")
			return ok, nil
		case errors.Is(err, events.ErrInvalidTransition):
			log.InfoContext(ctx, "wsapi: connection closed concurrently")
			return ok, nil
		case errors.Is(err, events.ErrVersionConflict):
			continue
		}
		a.refusal(ctx, log, err)
		return awsevents.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
	}
	a.refusal(ctx, log, errBusy)
	return awsevents.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
}

// closeReason maps what the gateway says of a disconnect onto the reasons
// of connection.closed. The local gateway sets disconnectReason "idle" or
// "expired"; API Gateway's wording is matched loosely; anything else is
// the client's doing.
func closeReason(rc awsevents.APIGatewayWebsocketProxyRequestContext) string {
	var r string
	if rc.DisconnectReason != nil {
		r = strings.ToLower(strings.TrimSpace(*rc.DisconnectReason))
	}
	switch {
	case strings.Contains(r, "idle"):
		return events.CloseIdle
	case strings.Contains(r, "expire"), strings.Contains(r, "max"), strings.Contains(r, "duration"):
		return events.CloseExpired
	}
	return events.CloseClient
}

// Default is the route of every client message (API Gateway's $default
// route, and any custom route pointed at it). It answers only through the
// Poster — replies, replayed events and error frames, in order — and
// returns 200 with an empty body; a refused frame costs the client one
// error frame, never its connection.
func (a *API) Default(ctx context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
	ok := awsevents.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	connID := req.RequestContext.ConnectionID
	log := a.log.With("connection_id", connID)
	s := a.newSender(connID, log)
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			s.fail(ctx, nil, protocol.Errorf(protocol.CodeInvalidJSON, "binary message is not valid base64"))
			return ok, nil
		}
		body = b
	}
	in, perr := protocol.Decode(body)
	if perr != nil {
		log.DebugContext(ctx, "wsapi: frame refused", "code", perr.Code, "size", len(body))
		s.fail(ctx, &in, perr)
		return ok, nil
	}
	log = log.With("action", in.Action)
	s.log = log
	st, err := a.connection(ctx, connID, false)
	if err != nil {
		s.fail(ctx, &in, a.refusal(ctx, log, err))
		return ok, nil
	}
	c := &call{a: a, in: in, connID: connID, p: st.principal, s: s, log: log, causation: req.RequestContext.RequestID}
	if err := c.dispatch(ctx); err != nil {
		c.s.fail(ctx, &c.in, a.refusal(ctx, c.log, err))
	}
	return ok, nil
}

// call is one client message being answered.
type call struct {
	a         *API
	in        protocol.Inbound
	connID    string
	p         auth.Principal
	s         *sender
	log       *slog.Logger
	causation string // the gateway's ID of this message
}

func (c *call) dispatch(ctx context.Context) error {
	if c.in.RequestID != "" && protocol.IsReserved(c.in.Action) {
		c.log = c.log.With("request_id", c.in.RequestID)
		c.s.log = c.log
	}
	switch c.in.Action {
	case protocol.ActionPing:
		now := c.a.cfg.Now().UTC()
		c.s.post(ctx, protocol.Outbound{Type: protocol.TypePong, Action: protocol.ActionPing, ClientRequestID: c.in.ClientRequestID, Time: &now})
		return nil
	case protocol.ActionSubscribe:
		return c.subscribe(ctx)
	case protocol.ActionUnsubscribe:
		return c.unsubscribe(ctx)
	case protocol.ActionCancel:
		return c.cancel(ctx)
	case protocol.ActionStatus:
		return c.status(ctx)
	}
	return c.submit(ctx)
}

// meta is the Meta of the events this call appends.
func (c *call) meta(correlationID string) events.Meta {
	return events.Meta{Actor: c.p.User, Tenant: c.p.Tenant, CorrelationID: correlationID, CausationID: c.causation, Source: c.a.cfg.Source}
}

// errorResponse is a $connect refusal: the status and a short JSON error.
func errorResponse(status int, e *protocol.Error) awsevents.APIGatewayProxyResponse {
	body, _ := json.Marshal(struct {
		Error *protocol.Error `json:"error"`
	}{e})
	return awsevents.APIGatewayProxyResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}
}

// sourceSummary describes where a connection comes from, for
// connection.opened's source: "websocket", the client IP and a bounded
// user agent.
func sourceSummary(req awsevents.APIGatewayWebsocketProxyRequest) string {
	parts := []string{"websocket"}
	if ip := req.RequestContext.Identity.SourceIP; ip != "" {
		parts = append(parts, "ip="+ip)
	}
	ua := req.RequestContext.Identity.UserAgent
	if ua == "" {
		ua = header(req.Headers, "User-Agent")
	}
	if ua != "" {
		parts = append(parts, "ua="+truncate(ua, 120))
	}
	return strings.Join(parts, " ")
}

// header returns the value of header name, matched case-insensitively
// (API Gateway keeps the client's spelling).
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
