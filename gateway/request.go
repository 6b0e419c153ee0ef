package gateway

import (
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// Event types of requestContext.eventType.
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// requestTimeLayout is requestContext.requestTime's format
// ("20/Jan/2024:11:55:00 +0000").
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// requestContext is the part of every integration request that describes
// the connection and this invocation.
func (c *conn) requestContext(routeKey, eventType string, now time.Time) awsevents.APIGatewayWebsocketProxyRequestContext {
	id := newRequestID()
	return awsevents.APIGatewayWebsocketProxyRequestContext{
		Stage:             c.g.cfg.Stage,
		RequestID:         id,
		ExtendedRequestID: id,
		Identity: awsevents.APIGatewayRequestIdentity{
			SourceIP:  c.sourceIP,
			UserAgent: c.userAgent,
		},
		APIID:            c.g.cfg.APIID,
		ConnectedAt:      c.connectedAt.UnixMilli(),
		ConnectionID:     c.id,
		DomainName:       c.domain,
		EventType:        eventType,
		MessageDirection: "IN",
		RequestTime:      now.UTC().Format(requestTimeLayout),
		RequestTimeEpoch: now.UnixMilli(),
		RouteKey:         routeKey,
	}
}

// connectRequest is the $connect request for the handshake r: its headers
// (plus Host and the X-Forwarded-* headers API Gateway adds), its query
// string, and the request context.
func (c *conn) connectRequest(r *http.Request, now time.Time) awsevents.APIGatewayWebsocketProxyRequest {
	multi := make(map[string][]string, len(r.Header)+4)
	for k, v := range r.Header {
		multi[k] = append([]string(nil), v...)
	}
	multi["Host"] = []string{r.Host}
	xff := c.sourceIP
	if prev := strings.Join(r.Header.Values("X-Forwarded-For"), ", "); prev != "" {
		xff = prev + ", " + c.sourceIP
	}
	multi["X-Forwarded-For"] = []string{xff}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	multi["X-Forwarded-Proto"] = []string{proto}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			multi["X-Forwarded-Port"] = []string{port}
		}
	}
	query := r.URL.Query()
	var mq map[string][]string
	if len(query) > 0 {
		mq = map[string][]string(query)
	}
	return awsevents.APIGatewayWebsocketProxyRequest{
		Headers:                         lastValues(multi),
		MultiValueHeaders:               multi,
		QueryStringParameters:           lastValues(mq),
		MultiValueQueryStringParameters: mq,
		RequestContext:                  c.requestContext(RouteConnect, EventConnect, now),
	}
}

// messageRequest is the request for one client message routed to
// routeKey. A binary message travels base64-encoded, as API Gateway sends
// it.
func (c *conn) messageRequest(routeKey string, m inbound) awsevents.APIGatewayWebsocketProxyRequest {
	rc := c.requestContext(routeKey, EventMessage, m.at)
	rc.MessageID = newRequestID()
	req := awsevents.APIGatewayWebsocketProxyRequest{RequestContext: rc, Body: string(m.data)}
	if m.binary {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(m.data), true
	}
	return req
}

// disconnectRequest is the $disconnect request: API Gateway's few headers
// and the close status and reason.
func (c *conn) disconnectRequest(code int, reason string, now time.Time) awsevents.APIGatewayWebsocketProxyRequest {
	multi := map[string][]string{
		"Host":            {c.domain},
		"x-api-key":       {""},
		"X-Forwarded-For": {""},
		"x-restapi":       {""},
	}
	rc := c.requestContext(RouteDisconnect, EventDisconnect, now)
	rc.DisconnectStatusCode = int64(code)
	rc.DisconnectReason = &reason
	return awsevents.APIGatewayWebsocketProxyRequest{
		Headers:           lastValues(multi),
		MultiValueHeaders: multi,
		RequestContext:    rc,
	}
}

// lastValues keeps the last value of each key, as API Gateway's
// single-value maps do; nil for an empty map.
func lastValues(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v[len(v)-1]
		}
	}
	return out
}

// responseHeader finds a header of an integration response by name,
// ignoring case, in Headers and then MultiValueHeaders.
func responseHeader(resp awsevents.APIGatewayProxyResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[len(v)-1]
		}
	}
	return ""
}
