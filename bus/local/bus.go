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
	Logger      *slog.Logger
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
}

var _ bus.Publisher = (*Bus)(nil)

// New builds a bus without rules.
func New(cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, closing: make(chan struct{}),
		rules: map[string]*rule{}, tails: map[*Subscription]struct{}{}}, nil
}

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
	queue   chan delivery
}

// delivery is one event on its way to one target.
type delivery struct {
	Delivery
}

// Delivery is what a target receives.
type Delivery struct {
	Event       events.Event               // the published event
	EventBridge awsevents.EventBridgeEvent // the event as an EventBridge rule delivers it
	JSON        []byte                     // EventBridge, marshalled: the webhook body and tail line
}

// AddRule compiles r's pattern and starts delivering to its target.
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
	rl := &rule{Rule: r, pattern: p, queue: make(chan delivery, b.cfg.QueueSize)}
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
func (b *Bus) Publish(ctx context.Context, evs []events.Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
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
	return delivery{Delivery{Event: e, EventBridge: eb, JSON: js}}, parsed, nil
}

// route queues d for every matching rule and offers it to the tails. The
// caller holds b.mu for reading.
func (b *Bus) route(ctx context.Context, d delivery, parsed pattern.Event) error {
	for _, r := range b.order {
		if !r.pattern.MatchEvent(parsed) {
			continue
		}
		select {
		case r.queue <- d:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.closing:
			return ErrClosed
		}
	}
	for s := range b.tails {
		if s.pattern == nil || s.pattern.MatchEvent(parsed) {
			s.offer(d.JSON)
		}
	}
	return nil
}

// Close stops accepting events and rules, delivers what is queued, and
// returns when every target is done or ctx ends; then the remaining
// deliveries are abandoned to the dead letters. Tail subscriptions end.
func (b *Bus) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { close(b.closing) })
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, r := range b.order {
		close(r.queue)
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
	select {
	case <-done:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel() // in-flight and queued deliveries fail fast into the dead letters
		<-done
		return fmt.Errorf("local bus: close: %w", ctx.Err())
	}
}

// work delivers r's queue until it is closed.
func (b *Bus) work(r *rule) {
	for d := range r.queue {
		b.deliver(r, d)
	}
}

// deliver sends d to r's target, retrying with backoff, and dead-letters
// it when the retries are spent or the error is permanent.
func (b *Bus) deliver(r *rule, d delivery) {
	t := r.Target
	p := t.retry.withDefaults()
	var err error
	attempts := 0
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
			return
		}
		if errors.Is(err, ErrPermanent) || b.ctx.Err() != nil {
			break
		}
		b.log.Warn("bus delivery failed; retrying", "rule", r.Name, "target", t.desc, "event_id", d.Event.ID,
			"stream", d.Event.StreamID, "version", d.Event.Version, "attempt", attempts, "error", err)
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
		b.log.Error("bus dead letter not recorded: the delivery is lost", "rule", r.Name, "event_id", d.Event.ID,
			"stream", d.Event.StreamID, "version", d.Event.Version, "error", err, "record_error", perr, "event", string(d.JSON))
		return
	}
	b.log.Error("bus delivery dead-lettered", "rule", r.Name, "target", t.desc, "event_id", d.Event.ID,
		"stream", d.Event.StreamID, "version", d.Event.Version, "attempts", attempts, "error", err)
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
