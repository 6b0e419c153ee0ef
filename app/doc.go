// Package app is the one place where streamer's parts are wired together.
// The local runtime (`streamer dev`), the Lambda mains and the end-to-end
// tests all build their components here, so the three cannot drift apart.
package app
