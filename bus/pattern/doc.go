// Package pattern is streamer's own implementation of Amazon EventBridge
// event patterns: Compile checks a pattern the way EventBridge's PutRule
// does and Match tells whether an EventBridge-shaped event (version, id,
// detail-type, source, account, time, region, resources, detail) matches
// it. The local bus routes with it, `streamer events tail --pattern` filters
// with it, and its table test runs every case through moto's EventBridge as
// well.
//
// Supported: exact strings, numbers, booleans and null; prefix and suffix
// (also with equals-ignore-case); equals-ignore-case; wildcard; anything-but
// (a value, a list of strings or of numbers, or a prefix, suffix,
// equals-ignore-case or wildcard); numeric comparisons and ranges; exists;
// cidr; $or; nested fields; arrays in events (a field matches when any
// element does, and the fields matched inside one array element must come
// from that same element, as EventBridge does).
//
// The one guarantee a caller must know: a pattern that Compile accepts is one
// EventBridge accepts, and Match gives EventBridge's verdict; the known
// differences (dotted keys, the 2048-character quota) are listed in
// docs/eventbridge.md.
package pattern
