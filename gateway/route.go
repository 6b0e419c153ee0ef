package gateway

import (
	"encoding/json"
	"net/url"
	"strings"
)

// actionOf evaluates API Gateway's route selection expression
// $request.body.action on a client message: the value of the top-level
// "action" member when the message is a JSON object and that member is a
// string. The member name is matched exactly (encoding/json would also
// accept "Action"). ok is false for anything else: a message that is not
// JSON, not an object, or whose action is missing or not a string.
func actionOf(body []byte) (action string, ok bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return "", false
	}
	raw, found := obj["action"]
	if !found {
		return "", false
	}
	if err := json.Unmarshal(raw, &action); err != nil {
		return "", false
	}
	return action, true
}

// selectRoute returns the route key a message goes to: the route named by
// its action when one is configured, else $default. It returns "" when
// neither exists. The reserved $connect and $disconnect are never selected
// by a message, and binary messages always go to $default (API Gateway
// cannot evaluate the expression on them).
func selectRoute(routes map[string]Integration, body []byte, binary bool) string {
	if !binary {
		if action, ok := actionOf(body); ok && action != "" && action != RouteConnect && action != RouteDisconnect {
			if _, found := routes[action]; found {
				return action
			}
		}
	}
	if _, found := routes[RouteDefault]; found {
		return RouteDefault
	}
	return ""
}

// Kinds of request path under the gateway's mount point.
const (
	pathUnknown    = iota
	pathSocket     // "/", "" or "/{stage}": the WebSocket upgrade
	pathConnection // "/@connections/{id}" or "/{stage}/@connections/{id}"
)

// parsePath classifies escapedPath, the request's escaped path relative to
// the mount point. stage is the stage segment when the path carries one;
// id is the unescaped connection ID of an @connections path.
func parsePath(escapedPath string) (kind int, stage, id string) {
	p := strings.TrimPrefix(escapedPath, "/")
	if p == "" {
		return pathSocket, "", ""
	}
	segs := strings.Split(p, "/")
	if segs[len(segs)-1] == "" { // one trailing slash is allowed
		segs = segs[:len(segs)-1]
	}
	unescape := func(s string) (string, bool) {
		u, err := url.PathUnescape(s)
		return u, err == nil && u != ""
	}
	switch {
	case len(segs) == 1 && segs[0] != "@connections":
		if s, ok := unescape(segs[0]); ok {
			return pathSocket, s, ""
		}
	case len(segs) == 2 && segs[0] == "@connections":
		if c, ok := unescape(segs[1]); ok {
			return pathConnection, "", c
		}
	case len(segs) == 3 && segs[1] == "@connections":
		s, ok1 := unescape(segs[0])
		c, ok2 := unescape(segs[2])
		if ok1 && ok2 {
			return pathConnection, s, c
		}
	}
	return pathUnknown, "", ""
}
