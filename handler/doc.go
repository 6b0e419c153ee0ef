// Package handler is the handler API kept from the origin project: a
// Handler does the work of one action; short ones answer inline (Process),
// long ones report progress (ProcessWithProgress) through a Reporter that
// appends request.progress events to the log.
//
// The Router holds the registered handlers and runs them through a chain of
// Middleware, on the sync path (Process) and on the async path
// (ProcessWithProgress) alike. The one guarantee a caller must know: a panic
// in a handler (or in a middleware) never escapes the Router; it comes back
// as a *PanicError, which every middleware outside the panicking layer sees
// as an ordinary error.
//
// docs/handlers.md is the guide for writing handlers; package processor
// runs async requests, and handler/demo holds the demonstration handlers.
package handler
