// Package testenv is the moto harness every AWS-adapter test uses: it gives
// a test package an AWS endpoint (a local moto server), an aws.Config that
// points at it, and unique resource names so that tests sharing one server
// never see each other's tables.
//
// A package opts in with
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// If STREAMER_TEST_AWS_ENDPOINT (EndpointEnv) is set, as `make test` does
// for a whole run, that server is used. Otherwise Main starts moto_server on
// a free 127.0.0.1 port for the package and stops it afterwards.
//
// Known moto divergence: moto_server does not isolate concurrent requests,
// so racing conditional writes of one item can both succeed. Tests that
// assert exactly-one-winner semantics build their clients from Serial.
//
// The one guarantee a caller must know: tests never skip for lack of moto.
// A missing moto_server fails the package with a message saying how to
// install it.
package testenv
