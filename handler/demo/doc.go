// Package demo holds the demonstration handlers: echo (sync), generate_report
// (async with progress) and fail (async, fails on purpose). They show how a
// handler is written and give the end-to-end tests real handlers to drive;
// docs/handlers.md documents their payloads.
//
// Every handler's Validate decodes the client's payload strictly (unknown
// fields are refused), so what it accepts is exactly what the docs say.
package demo
