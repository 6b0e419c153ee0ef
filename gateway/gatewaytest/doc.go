// Package gatewaytest runs a gateway.Gateway on a loopback HTTP server,
// mounted under /ws with http.StripPrefix as the dev server mounts it, and
// dials real WebSocket clients to it that know their own connection ID.
// Tests of the gateway, of the @connections poster and end-to-end tests
// use it.
//
// The guarantee a caller must know: a Client returned by Dial has passed
// $connect and is registered in the gateway, so a post to Client.ID()
// reaches it.
package gatewaytest
