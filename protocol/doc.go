// Package protocol is the WebSocket wire format of streamer: the frames a
// client sends (selected by their "action" field, as API Gateway's
// $request.body.action selects a route), the frames the server sends (each
// with a "type"), and the stable error codes. docs/protocol.md is the
// reference for clients; this package is its single implementation on the
// server side and in the Go client.
//
// Decode is the only entry point for outside input: it never panics, bounds
// the size, and answers every malformed frame with an *Error carrying a
// stable code, so a bad frame costs the client one error frame, never its
// connection.
package protocol
