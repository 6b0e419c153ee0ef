package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// timeLayout is how the management API writes times (ISO 8601, UTC,
// milliseconds), which the SDK parses as __timestampIso8601.
const timeLayout = "2006-01-02T15:04:05.000Z"

// connectionInfo is GetConnection's answer.
type connectionInfo struct {
	ConnectedAt  string   `json:"connectedAt"`
	Identity     identity `json:"identity"`
	LastActiveAt string   `json:"lastActiveAt"`
}

type identity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// serveConnection is the @connections management API for one connection:
// POST posts the body as one message, GET describes the connection, DELETE
// closes it. Status codes, bodies and x-amzn-ErrorType are API Gateway's,
// so connections/apigw maps them to its sentinels and the
// apigatewaymanagementapi SDK client to its typed errors, as on AWS.
func (g *Gateway) serveConnection(w http.ResponseWriter, r *http.Request, id string) {
	if !signed(r) {
		writeAPIError(w, http.StatusForbidden, "ForbiddenException", "Missing Authentication Token")
		return
	}
	switch r.Method {
	case http.MethodPost:
		g.postToConnection(w, r, id)
	case http.MethodGet:
		c := g.lookup(id)
		if c == nil || c.isClosing() {
			writeGone(w, id)
			return
		}
		writeJSON(w, http.StatusOK, connectionInfo{
			ConnectedAt:  c.connectedAt.UTC().Format(timeLayout),
			Identity:     identity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
			LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC().Format(timeLayout),
		})
	case http.MethodDelete:
		c := g.lookup(id)
		if c == nil || !c.closeWith(websocket.StatusNormalClosure, DisconnectReasonDeleted) {
			writeGone(w, id)
			return
		}
		setRequestID(w)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeAPIError(w, http.StatusForbidden, "ForbiddenException", "Missing Authentication Token")
	}
}

func (g *Gateway) postToConnection(w http.ResponseWriter, r *http.Request, id string) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(g.cfg.MaxMessageSize)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeAPIError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long")
			return
		}
		writeAPIError(w, http.StatusBadRequest, "BadRequestException", "could not read the request body")
		return
	}
	c := g.lookup(id)
	if c == nil {
		writeGone(w, id)
		return
	}
	err = c.send(r.Context(), data, true)
	switch {
	case err == nil:
		setRequestID(w)
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, errGone):
		c.log.Debug("post failed", "err", err)
		writeGone(w, id)
	case errors.Is(err, errThrottled):
		writeAPIError(w, http.StatusTooManyRequests, "LimitExceededException", "Too many pending messages for this connection")
	default: // the caller went away while waiting for the socket
		writeAPIError(w, http.StatusGatewayTimeout, "InternalServerErrorException", err.Error())
	}
}

// signed reports whether r carries a SigV4 signature. Like API Gateway's
// IAM authorisation it refuses unsigned requests; unlike it, any
// credentials are accepted and the signature is not verified.
func signed(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") ||
		r.URL.Query().Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256"
}

func writeGone(w http.ResponseWriter, id string) {
	writeAPIError(w, http.StatusGone, "GoneException", "connection "+id+" is gone")
}

// writeAPIError answers as API Gateway's management API does: a JSON
// {"message": ...} with the error's name in x-amzn-ErrorType.
func writeAPIError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("x-amzn-ErrorType", errorType)
	writeJSON(w, status, struct {
		Message string `json:"message"`
	}{message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	setRequestID(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func setRequestID(w http.ResponseWriter) {
	w.Header().Set("x-amzn-RequestId", newRequestID())
}
