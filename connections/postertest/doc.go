// Package postertest is the conformance suite of connections.Poster: every
// backend of the @connections API (the local gateway through apigw, an
// AWS endpoint) runs Run with a Harness that opens real client
// connections. Features states what a backend cannot do, instead of
// branching on its name.
//
// The guarantee a caller must know: the suite only opens connections
// through the Harness and posts only to IDs it opened or made up, so it
// can share a backend with other tests.
package postertest
