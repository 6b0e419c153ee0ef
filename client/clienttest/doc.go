// Package clienttest is a scripted streamer WebSocket peer for testing
// clients (package client, `streamer request`) without the real stack. It
// implements just enough of the protocol — handler actions echo, fail and
// job, and subscribe (with replay), unsubscribe, cancel, status and ping —
// over a real WebSocket (httptest + coder/websocket), records every frame it
// receives, and misbehaves on demand like a hostile network: duplicate live
// frames, replays out of order, connections dropped in the middle of a
// burst, refused handshakes (401), and custom scripts through Config.Hook.
//
// It is a test double for the network peer, not a reference server: the
// real server is tested end to end elsewhere.
package clienttest
