package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/events"
)

// ErrClosed: the bus is closed.
var ErrClosed = errors.New("local bus closed")

// Config tunes a Bus. Zero values take the defaults.
type Config struct {
	Source      string      // source of every event; default bus.DefaultSource
	Account     string      // "account" of delivered events; default "000000000000"
	Region      string      // "region" of delivered events; default "local"
	QueueSize   int         // deliveries queued per rule before Publish waits; default 1024
	TailBuffer  int         // events buffered per tail subscriber before it is cut off; default 256
	DeadLetters DeadLetters // where failed deliveries go unless a target says otherwise; default: logged at error level
	// Outbox, when set, makes delivery at least once across crashes:
	// Publish stores every delivery it routes before returning, and AddRule
	// first queues the rule's entries left by a previous run (SQLOutbox).
	// Nil keeps the queues in memory only.
	Outbox Outbox
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.QueueSize < 0 {
		errs = append(errs, errors.New("local bus: QueueSize must be ≥ 0"))
	}
	if c.TailBuffer < 0 {
		errs = append(errs, errors.New("local bus: TailBuffer must be ≥ 0"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Source == "" {
		c.Source = bus.DefaultSource
	}
	if c.Account == "" {
		c.Account = "000000000000"
	}
	if c.Region == "" {
		c.Region = "local"
	}
	if c.QueueSize == 0 {
		c.QueueSize = 1024
	}
	if c.TailBuffer == 0 {
		c.TailBuffer = 256
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DeadLetters == nil {
		c.DeadLetters = LogDeadLetters{Logger: c.Logger}
	}
	return c
}

// Bus is the local event bus.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // deliveries; cancelled when Close gives up draining
	cancel context.CancelFunc

	closing   chan struct{} // closed when Close starts: Publish stops waiting for room
	closeOnce sync.Once

	mu     sync.RWMutex
	rules  map[string]*rule
	order  []*rule
	tails  map[*Subscription]struct{}
	closed bool
	wg     sync.WaitGroup

	// With an outbox: storeMu makes the queues' order the outbox's order
	// across concurrent Publish calls; acks deletes finished entries.
	storeMu sync.Mutex
	acks    *acker
}

var _ bus.Publisher = (*Bus)(nil)

// New builds a bus without rules. With an outbox it logs the entries a
// previous run left, per rule: each rule's are delivered when it is added.
func New(cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Outbox != nil {
		ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
		counts, err := cfg.Outbox.Counts(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("local bus: %w", err)
		}
		if len(counts) > 0 {
			cfg.Logger.Info("bus outbox holds deliveries from a previous run; each rule's are delivered when it is added",
				"pending", counts)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, closing: make(chan struct{}),
		rules: map[string]*rule{}, tails: map[*Subscription]struct{}{}}
	if cfg.Outbox != nil {
		b.acks = newAcker(cfg.Outbox, cfg.Logger)
	}
	return b, nil
}

// outboxTimeout bounds the outbox reads and writes the bus makes on its
// own (not on a caller's context).
const outboxTimeout = 30 * time.Second

// Source is the source the bus stamps on events (for patterns).
func (b *Bus) Source() string { return b.cfg.Source }

// Rule routes the events its pattern matches to its target.
type Rule struct {
	Name    string
	Pattern string // an EventBridge event pattern (JSON)
	Target  Target
	// Concurrency is the number of deliveries in flight to the target.
	// 1 (the default) delivers in publish order; more run a worker pool
	// (the processor) and give up ordering.
	Concurrency int
}

type rule struct {
	Rule
	pattern *pattern.Pattern
	queue   queue
}

// delivery is one event on its way to one target.
type delivery struct {
	Delivery
	id  int64 // its outbox entry; 0 without an outbox
	bad error // an outbox entry that does not decode: dead-lettered, not delivered
}

// Delivery is what a target receives.
type Delivery struct {
	Event       events.Event               // the published event
	EventBridge awsevents.EventBridgeEvent // the event as an EventBridge rule delivers it
	JSON        []byte                     // EventBridge, marshalled: the webhook body and tail line
}

// AddRule compiles r's pattern and starts delivering to its target. With
// an outbox, the rule's entries left by a previous run are queued first,
// in the order they were published, before any event published from now
// on.
func (b *Bus) AddRule(r Rule) error {
	if r.Name == "" {
		return errors.New("local bus: rule name is required")
	}
	if r.Target.deliver == nil {
		return fmt.Errorf("local bus: rule %s: target is required", r.Name)
	}
	if r.Concurrency < 0 {
		return fmt.Errorf("local bus: rule %s: concurrency must be ≥ 0", r.Name)
	}
	if r.Concurrency == 0 {
		r.Concurrency = 1
	}
	p, err := pattern.Compile([]byte(r.Pattern))
	if err != nil {
		return fmt.Errorf("local bus: rule %s: %w", r.Name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if _, dup := b.rules[r.Name]; dup {
		return fmt.Errorf("local bus: rule %s already exists", r.Name)
	}
	rl := &rule{Rule: r, pattern: p}
	if b.cfg.Outbox != nil {
		ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
		pending, err := b.cfg.Outbox.Pending(ctx, r.Name)
		cancel()
		if err != nil {
			return fmt.Errorf("local bus: rule %s: %w", r.Name, err)
		}
		if len(pending) > 0 {
			ds := make([]delivery, len(pending))
			for i, e := range pending {
				ds[i] = recovered(e)
			}
			rl.queue.push(ds...)
			b.log.Info("bus rule recovers deliveries from the outbox", "rule", r.Name, "count", len(pending))
		}
	}
	b.rules[r.Name] = rl
	b.order = append(b.order, rl)
	for range r.Concurrency {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.work(rl)
		}()
	}
	b.log.Info("bus rule added", "rule", r.Name, "pattern", r.Pattern, "target", r.Target.desc, "concurrency", r.Concurrency)
	return nil
}

// Publish routes evs, in order, to the matching rules and tail
// subscribers. It returns once every delivery is queued (waiting while a
// rule's queue is full); deliveries happen in the background. Events it
// could not queue (ctx ended, bus closed) are named in a *bus.PublishError.
//
// With an outbox, Publish first waits until every rule it routes to has
// fewer than QueueSize deliveries queued, then stores all the deliveries
// of the call in one Outbox.Add, then queues them: a nil error means
// every delivery is stored. When the wait or the store fails nothing is
// stored, and every event some rule matched is named in the
// *bus.PublishError (the others, which no rule wanted, are published).
func (b *Bus) Publish(ctx context.Context, evs []events.Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.cfg.Outbox != nil {
		return b.publishStored(ctx, evs)
	}
	var failed []bus.Failed
	for i, e := range evs {
		if b.closed {
			failed = append(failed, failAll(evs[i:], ErrClosed)...)
			break
		}
		d, parsed, err := b.delivery(e)
		if err != nil {
			failed = append(failed, bus.Failed{Event: e, Err: err})
			continue
		}
		if err := b.route(ctx, d, parsed); err != nil {
			failed = append(failed, failAll(evs[i:], err)...)
			break
		}
	}
	if len(failed) > 0 {
		return &bus.PublishError{Failed: failed}
	}
	return nil
}

func failAll(evs []events.Event, err error) []bus.Failed {
	out := make([]bus.Failed, len(evs))
	for i, e := range evs {
		out[i] = bus.Failed{Event: e, Err: err}
	}
	return out
}

func (b *Bus) delivery(e events.Event) (delivery, pattern.Event, error) {
	detail, err := bus.Detail(e)
	if err != nil {
		return delivery{}, pattern.Event{}, err
	}
	eb := bus.EventBridgeEvent(e, events.NewID(), b.cfg.Source, b.cfg.Account, b.cfg.Region, detail)
	js, err := json.Marshal(eb)
	if err != nil {
		return delivery{}, pattern.Event{}, fmt.Errorf("marshal %s@%d: %w", e.StreamID, e.Version, err)
	}
	parsed, err := pattern.ParseEvent(js)
	if err != nil {
		return delivery{}, pattern.Event{}, err
	}
	return delivery{Delivery: Delivery{Event: e, EventBridge: eb, JSON: js}}, parsed, nil
}

// route queues d for every matching rule and offers it to the tails. The
// caller holds b.mu for reading.
func (b *Bus) route(ctx context.Context, d delivery, parsed pattern.Event) error {
	for _, r := range b.order {
		if !r.pattern.MatchEvent(parsed) {
			continue
		}
		if err := r.queue.waitRoom(ctx, b.closing, b.cfg.QueueSize, d); err != nil {
			return err
		}
	}
	b.offerTails(d.JSON, parsed)
	return nil
}

// offerTails hands an event to the tail subscribers that want it. The
// caller holds b.mu for reading.
func (b *Bus) offerTails(js []byte, parsed pattern.Event) {
	for s := range b.tails {
		if s.pattern == nil || s.pattern.MatchEvent(parsed) {
			s.offer(js)
		}
	}
}

// Close stops accepting events and rules, delivers what is queued, and
// returns when every target is done or ctx ends; then the remaining
// deliveries are abandoned to the dead letters — with an outbox they stay
// in it instead, for the next start. Tail subscriptions end.
func (b *Bus) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { close(b.closing) })
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, r := range b.order {
		r.queue.close()
	}
	for s := range b.tails {
		s.end(ErrClosed)
	}
	b.tails = map[*Subscription]struct{}{}
	b.mu.Unlock()

	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
		b.cancel()
	case <-ctx.Done():
		// Without an outbox, in-flight and queued deliveries fail fast into
		// the dead letters; with one, they stay in it for the next start.
		b.cancel()
		<-done
		err = fmt.Errorf("local bus: close: %w", ctx.Err())
	}
	if b.acks != nil {
		b.acks.close()
		b.logOutbox()
	}
	return err
}

// logOutbox reports, once the bus is closed, the outbox entries that stay
// for the next start: those of this bus's rules (Close gave up, or a dead
// letter could not be recorded) and those of rules it never had.
func (b *Bus) logOutbox() {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	counts, err := b.cfg.Outbox.Counts(ctx)
	if err != nil {
		b.log.Error("bus outbox unreadable at close", "error", err)
		return
	}
	for name, n := range counts {
		if _, ok := b.rules[name]; ok {
			b.log.Warn("bus deliveries left in the outbox: delivered when the rule is added at the next start", "rule", name, "count", n)
		} else {
			b.log.Warn("bus outbox keeps deliveries of a rule this bus does not have: delivered when a rule of that name is added",
				"rule", name, "count", n)
		}
	}
}

// work delivers r's queue until it is closed. With an outbox it acks what
// finished (delivered or dead-lettered) and stops when Close gives up:
// what is left stays in the outbox.
func (b *Bus) work(r *rule) {
	for {
		if b.acks != nil && b.ctx.Err() != nil {
			return
		}
		d, ok := r.queue.pop()
		if !ok {
			return
		}
		if b.deliver(r, d) && b.acks != nil {
			b.acks.ack(b.ctx, d.id)
		}
	}
}

// deliver sends d to r's target, retrying with backoff, and dead-letters
// it when the retries are spent or the error is permanent (at once for an
// outbox entry that does not decode). It reports whether d is finished:
// delivered or dead-lettered. With an outbox, a delivery Close interrupts
// or whose dead letter cannot be recorded is not finished: it stays in the
// outbox.
func (b *Bus) deliver(r *rule, d delivery) bool {
	t := r.Target
	p := t.retry.withDefaults()
	var err error
	attempts := 0
	if d.bad != nil {
		err = d.bad
		p.Retries = -1 // no attempt
	}
	for attempt := 0; attempt <= p.Retries; attempt++ {
		if attempt > 0 {
			if serr := sleep(b.ctx, p.delay(attempt)); serr != nil {
				err = errors.Join(err, serr)
				break
			}
		}
		attempts++
		err = t.deliver(b.ctx, d.Delivery)
		if err == nil {
			return true
		}
		if errors.Is(err, ErrPermanent) || b.ctx.Err() != nil {
			break
		}
		b.log.Warn("bus delivery failed; retrying", "rule", r.Name, "target", t.desc, "event_id", d.Event.ID,
			"stream", d.Event.StreamID, "version", d.Event.Version, "attempt", attempts, "error", err)
	}
	if b.acks != nil && b.ctx.Err() != nil {
		b.log.Warn("bus delivery interrupted by close: it stays in the outbox", "rule", r.Name, "event_id", d.Event.ID,
			"stream", d.Event.StreamID, "version", d.Event.Version, "attempts", attempts, "error", err)
		return false
	}
	dl := DeadLetter{
		Rule: r.Name, Target: t.desc, EventID: d.Event.ID, Stream: d.Event.StreamID, Version: d.Event.Version,
		Type: d.Event.Type, Body: d.JSON, Attempts: attempts, Error: err.Error(), Time: time.Now().UTC(),
	}
	sink := t.deadLetters
	if sink == nil {
		sink = b.cfg.DeadLetters
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if perr := sink.Put(ctx, dl); perr != nil {
		if b.acks != nil {
			b.log.Error("bus dead letter not recorded: the delivery stays in the outbox for the next start", "rule", r.Name,
				"event_id", d.Event.ID, "stream", d.Event.StreamID, "version", d.Event.Version, "error", err, "record_error", perr)
			return false
		}
		b.log.Error("bus dead letter not recorded: the delivery is lost", "rule", r.Name, "event_id", d.Event.ID,
			"stream", d.Event.StreamID, "version", d.Event.Version, "error", err, "record_error", perr, "event", string(d.JSON))
		return true
	}
	b.log.Error("bus delivery dead-lettered", "rule", r.Name, "target", t.desc, "event_id", d.Event.ID,
		"stream", d.Event.StreamID, "version", d.Event.Version, "attempts", attempts, "error", err)
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
