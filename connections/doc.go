// Package connections is how server code reaches a WebSocket client: a
// Poster posts one message to one connection through API Gateway's
// @connections management API (on AWS, or the local gateway's identical
// endpoint). ErrGone means the connection no longer exists.
package connections
