// Package schemas holds the JSON Schemas (draft 2020-12) of the detail of
// every streamer event on the bus, in events/<type>.json, with the common
// envelope in events/envelope.json and the reference form in events/ref.json.
// Subscribers in any language use the files; Go code validates with
// ValidateDetail.
//
// The one guarantee a caller must know: the tests validate real events,
// published through the local bus and through EventBridge (moto), against
// these files, so a payload change that the schemas do not describe fails
// the build.
package schemas
