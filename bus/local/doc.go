// Package local is the embedded runtime's event bus: it implements
// bus.Publisher in process, routes every published event through rules
// with EventBridge event patterns (bus/pattern), and delivers it to each
// matching rule's target — an in-process handler, an EventBridge-shaped
// Lambda handler (the processor's HandleEventBridge), or an HTTP webhook —
// and to live tail subscribers (TailHandler, `streamer events tail`).
//
// Targets receive the event exactly as an EventBridge rule would deliver
// it (version, id, detail-type, source, account, time, region, resources,
// detail = the envelope), so code written against EventBridge runs on it
// unchanged.
//
// The one guarantee a caller must know: delivery to a target is
// asynchronous and at least once while the process runs — failed
// deliveries are retried with backoff and then kept as dead letters, never
// dropped silently — and a rule with Concurrency 1 (the default) delivers
// in publish order, each event after the previous one succeeded or was
// dead-lettered. Without an outbox, queued deliveries live in memory:
// Close drains them; a crash loses what was queued but not yet delivered.
// With an outbox (Config.Outbox, SQLOutbox on the embedded runtime's
// events.db) delivery is at least once across crashes: Publish returns nil
// only once every delivery it routed is stored (one transaction per call);
// an entry is deleted once its target accepted it or it was dead-lettered;
// AddRule first delivers the rule's entries a previous run left, in publish
// order. Entries of rules the bus never gets are kept (and logged) until a
// rule of that name is added. Tail subscribers stay live only.
package local
