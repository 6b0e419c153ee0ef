package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamer/streamer/events"
)

// ErrRebuildSuperseded: the rebuild's generation is no longer the one
// being rebuilt (another run aborted or restarted it).
var ErrRebuildSuperseded = errors.New("rebuild superseded")

// ErrRebuildViewsMismatch: a rebuild is in progress with another view
// selection (Meta.Views) than the one asked for. Resume it with its own
// selection, or abandon it with RebuildOptions.Restart.
var ErrRebuildViewsMismatch = errors.New("rebuild in progress replays other views")

// Progress is a rebuild's progress, for a progress bar.
type Progress struct {
	Done  int64         // events read from the log (replayed, or skipped as another kind's), over every run of this rebuild
	Total int64         // Done plus the source's estimate of what remains; 0 if unknown
	Rate  float64       // events per second in this run
	ETA   time.Duration // time left at Rate; 0 if unknown
}

// RebuildOptions tune Rebuild. The zero value is usable.
type RebuildOptions struct {
	// Source is the log to replay; default ScanSource(log) (not resumable).
	Source Source
	// Views selects the kinds of views replayed from the log; default
	// ViewAll. The others are carried over from the active generation
	// (Generations.CopyViews) once the replay ends. The selection is
	// recorded in Meta.Views: a rebuild in progress resumes only with the
	// same one (ErrRebuildViewsMismatch otherwise).
	Views ViewKind
	// TTL of connection views; zero fields keep the defaults.
	TTL TTL
	// FlushEvery is the number of events between two flushes of the
	// changed views, each followed by a checkpoint; default 10000.
	FlushEvery int
	// CacheSize bounds the views kept in memory between flushes; beyond it
	// the cache is emptied after a flush and views are read back from the
	// new generation when their stream continues. Default 100000.
	CacheSize int
	// Progress is called about every ProgressInterval (default 1 s) and
	// once at the end.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Restart abandons a rebuild in progress (dropping its generation)
	// instead of resuming it.
	Restart bool
	Logger  *slog.Logger
}

// RebuildResult describes a finished rebuild.
type RebuildResult struct {
	Generation string        // the new active generation
	Previous   string        // the generation it replaced; drop it with DropGeneration after a grace period
	Resumed    bool          // this run continued an interrupted rebuild
	Views      ViewKind      // the kinds replayed from the log
	Events     int64         // events read from the log by this run (those of other kinds are skipped)
	Written    int64         // view writes issued by this run's replay
	Copied     int64         // views of the other kinds carried over from the previous generation
	Elapsed    time.Duration // duration of this run
}

// Rebuild replays the log into a new generation of the views and then
// makes it the active one, without stopping the projector:
//
//  1. It records the new generation as Meta.Rebuilding (a new epoch). From
//     then on every projector writes each batch to the new generation first
//     and then to the active one; stores are fenced on the epoch, so a
//     projector that has not seen the change cannot write at all until it
//     re-reads Meta.
//  2. It replays the Source, folding events into views in memory and
//     flushing them with PutNewer every FlushEvery events, then saving the
//     Source checkpoint in Meta. PutNewer never lowers a view the projector
//     has already moved further, and the projector's version guard catches
//     up views the rebuild has not reached yet, so the two writers converge.
//     Only the streams of the kinds RebuildOptions.Views selects are
//     folded; the events of the others are read and skipped, by their
//     stream name's prefix.
//  3. The kinds not selected are carried over: Generations.CopyViews copies
//     the active generation's views of each into the new one, again by
//     "write if newer". Any write the projector made to the active
//     generation since step 1 it made to the new one first, so the copy
//     leaves the new generation at or ahead of the active one for those
//     kinds too.
//  4. Now every event that was in the log when the replay began is in the
//     new generation (replayed, or carried over in a view), and every later
//     one was written there by the projector before the active generation:
//     the new generation is at or ahead of the active one for every view.
//     One SwapMeta makes it active (a new epoch again); readers resolve
//     Meta on every read.
//
// A rebuild interrupted at any point is resumed by calling Rebuild again
// with the same Views: Meta still names the generation being rebuilt, its
// selection and its checkpoint, and until it is resumed (or AbortRebuild is
// called) the projector keeps writing both generations. A run resumed after
// its replay ended copies the carried-over kinds again (the copy is
// idempotent). Two runs at once are harmless: they write the same views,
// and the one that does not switch ends with ErrRebuildSuperseded.
func Rebuild(ctx context.Context, log events.Store, gens Generations, opts RebuildOptions) (RebuildResult, error) {
	r := &rebuilder{log: log, gens: gens, opts: opts, start: time.Now()}
	r.defaults()
	if err := r.begin(ctx); err != nil {
		return RebuildResult{}, err
	}
	if err := r.replay(ctx); err != nil {
		return r.result(), err
	}
	if err := r.carryOver(ctx); err != nil {
		return r.result(), err
	}
	if err := r.switchOver(ctx); err != nil {
		return r.result(), err
	}
	r.report(true)
	r.opts.Logger.InfoContext(ctx, "rebuild: switched", "generation", r.gen, "previous", r.res.Previous,
		"views", r.opts.Views, "events", r.res.Events, "written", r.res.Written, "copied", r.res.Copied,
		"elapsed", time.Since(r.start))
	return r.result(), nil
}

// AbortRebuild abandons the rebuild in progress, if any, and drops its
// generation.
func AbortRebuild(ctx context.Context, gens Generations) error {
	for {
		m, err := Bootstrap(ctx, gens)
		if err != nil {
			return err
		}
		if m.Rebuilding == "" {
			return nil
		}
		next := m
		next.Rebuilding, next.Checkpoint, next.Done, next.Views = "", "", 0, ""
		next.Epoch++
		next.UpdatedAt = time.Now().UTC()
		if _, err := gens.SwapMeta(ctx, m.Revision, next); err != nil {
			if errors.Is(err, ErrViewConflict) {
				continue
			}
			return fmt.Errorf("abort rebuild: %w", err)
		}
		if err := gens.Drop(ctx, m.Rebuilding); err != nil {
			return fmt.Errorf("abort rebuild: drop generation %s: %w", m.Rebuilding, err)
		}
		return nil
	}
}

type rebuilder struct {
	log   events.Store
	gens  Generations
	opts  RebuildOptions
	start time.Time

	meta  Meta   // latest Meta this run stored or read
	gen   string // generation being built
	epoch int64  // its epoch (the fence of its writes)
	vs    ViewStore
	res   RebuildResult

	cache      map[string]*streamView // views in memory, by stream
	dirty      map[string]struct{}    // streams changed since the last flush
	checkpoint string                 // Source checkpoint after the last replayed event
	pending    int                    // events since the last flush
	done       int64                  // Done of Progress
	total      int64                  // estimated total, 0 if unknown
	lastReport time.Time
}

func (r *rebuilder) defaults() {
	if r.opts.Source == nil {
		r.opts.Source = ScanSource(r.log, events.ScanOptions{})
	}
	if r.opts.FlushEvery <= 0 {
		r.opts.FlushEvery = 10000
	}
	if r.opts.CacheSize <= 0 {
		r.opts.CacheSize = 100000
	}
	if r.opts.ProgressInterval <= 0 {
		r.opts.ProgressInterval = time.Second
	}
	if r.opts.Logger == nil {
		r.opts.Logger = slog.Default()
	}
	r.opts.TTL = r.opts.TTL.withDefaults()
	r.opts.Views = r.opts.Views.orAll()
	r.res.Views = r.opts.Views
	r.cache, r.dirty = map[string]*streamView{}, map[string]struct{}{}
}

// begin records the new generation in Meta, or picks up the one in
// progress.
func (r *rebuilder) begin(ctx context.Context) error {
	if err := r.opts.Views.Validate(); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if r.opts.Restart {
		if err := AbortRebuild(ctx, r.gens); err != nil {
			return err
		}
	}
	for {
		m, err := Bootstrap(ctx, r.gens)
		if err != nil {
			return err
		}
		if m.Rebuilding != "" {
			if m.Views.orAll() != r.opts.Views {
				return fmt.Errorf("%w: generation %s is being rebuilt with views %q, not %q: resume it with the same views or restart it",
					ErrRebuildViewsMismatch, m.Rebuilding, m.Views.orAll(), r.opts.Views)
			}
			r.meta, r.res.Resumed = m, true
			break
		}
		next := m
		next.Epoch++
		next.Rebuilding, next.Checkpoint, next.Done = GenerationName(next.Epoch), "", 0
		next.Views = r.opts.Views
		next.UpdatedAt = time.Now().UTC()
		stored, err := r.gens.SwapMeta(ctx, m.Revision, next)
		if errors.Is(err, ErrViewConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("begin rebuild: %w", err)
		}
		r.meta = stored
		break
	}
	r.gen, r.epoch, r.res.Generation = r.meta.Rebuilding, r.meta.Epoch, r.meta.Rebuilding
	r.checkpoint = r.meta.Checkpoint
	if r.checkpoint != "" {
		r.done = r.meta.Done
	}
	vs, err := r.gens.Open(ctx, r.gen, r.epoch)
	if err != nil {
		return fmt.Errorf("open generation %s: %w", r.gen, err)
	}
	r.vs = vs
	if left, err := r.opts.Source.Remaining(ctx, r.checkpoint); err == nil && left >= 0 {
		r.total = r.done + left
	}
	r.opts.Logger.InfoContext(ctx, "rebuild: replaying", "generation", r.gen, "active", r.meta.Active,
		"views", r.opts.Views, "resumed", r.res.Resumed, "checkpoint", r.checkpoint, "total", r.total)
	return nil
}

// replay folds the Source into the new generation.
func (r *rebuilder) replay(ctx context.Context) error {
	err := r.opts.Source.Replay(ctx, r.checkpoint, func(e events.Event, next string) error {
		if err := r.fold(ctx, e); err != nil {
			return err
		}
		r.checkpoint = next
		r.pending++
		r.done++
		r.res.Events++
		if r.pending >= r.opts.FlushEvery {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
		r.report(false)
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", r.gen, err)
	}
	return r.flush(ctx)
}

// fold applies one event to its stream's view in memory, if the rebuild
// replays its kind.
func (r *rebuilder) fold(ctx context.Context, e events.Event) error {
	if !r.opts.Views.includesStream(e.StreamID) {
		return nil
	}
	sv, ok := r.cache[e.StreamID]
	if !ok {
		v, err := newStreamView(e.StreamID)
		if err != nil {
			return err
		}
		sv = &v
		// A stream's first event needs no read: the fold starts empty, and
		// PutNewer keeps whatever a projector may have written further.
		if e.Version > 1 {
			if err := sv.load(ctx, r.vs); err != nil {
				return fmt.Errorf("read %s: %w", e.StreamID, err)
			}
		}
		r.cache[e.StreamID] = sv
	}
	before := sv.version()
	if err := advance(ctx, r.log, sv, []events.Event{e}, r.opts.TTL); err != nil {
		return err
	}
	if sv.version() != before {
		r.dirty[e.StreamID] = struct{}{}
	}
	return nil
}

// flush writes the changed views and then records the checkpoint.
func (r *rebuilder) flush(ctx context.Context) error {
	if len(r.dirty) > 0 {
		var b Batch
		for stream := range r.dirty {
			r.cache[stream].addTo(&b)
		}
		if err := r.vs.PutNewer(ctx, b); err != nil {
			return fmt.Errorf("write views: %w", err)
		}
		r.res.Written += int64(b.Len())
		clear(r.dirty)
	}
	if len(r.cache) > r.opts.CacheSize {
		clear(r.cache)
	}
	if r.pending == 0 {
		return nil
	}
	r.pending = 0
	return r.saveMeta(ctx, func(m *Meta) { m.Checkpoint, m.Done = r.checkpoint, r.done })
}

// saveMeta applies change to Meta while the rebuild still owns it.
func (r *rebuilder) saveMeta(ctx context.Context, change func(*Meta)) error {
	for {
		if r.meta.Rebuilding != r.gen || r.meta.Epoch != r.epoch {
			return fmt.Errorf("%w: generation %s (epoch %d), meta now rebuilding %q at epoch %d",
				ErrRebuildSuperseded, r.gen, r.epoch, r.meta.Rebuilding, r.meta.Epoch)
		}
		next := r.meta
		change(&next)
		next.UpdatedAt = time.Now().UTC()
		stored, err := r.gens.SwapMeta(ctx, r.meta.Revision, next)
		if err == nil {
			r.meta = stored
			return nil
		}
		if !errors.Is(err, ErrViewConflict) {
			return fmt.Errorf("save rebuild checkpoint: %w", err)
		}
		if r.meta, err = r.gens.Meta(ctx); err != nil {
			return fmt.Errorf("read view meta: %w", err)
		}
	}
}

// carryOver copies the views of the kinds not replayed from the active
// generation into the new one. The projector has been writing the new
// generation first since begin, so what the copy reads of the active one is
// never ahead of what the new one will hold.
func (r *rebuilder) carryOver(ctx context.Context) error {
	for _, kind := range r.opts.Views.Others() {
		start := time.Now()
		n, err := r.gens.CopyViews(ctx, kind, r.meta.Active, r.gen, r.epoch)
		if err != nil {
			if errors.Is(err, ErrFenced) {
				err = fmt.Errorf("%w: %w", ErrRebuildSuperseded, err)
			}
			return fmt.Errorf("rebuild %s: carry the %s views over from %s: %w", r.gen, kind, r.meta.Active, err)
		}
		r.res.Copied += n
		r.opts.Logger.InfoContext(ctx, "rebuild: views carried over", "generation", r.gen, "from", r.meta.Active,
			"views", kind, "count", n, "elapsed", time.Since(start))
	}
	return nil
}

// switchOver makes the new generation the active one.
func (r *rebuilder) switchOver(ctx context.Context) error {
	previous := ""
	err := r.saveMeta(ctx, func(m *Meta) {
		previous = m.Active
		m.Previous, m.Active = m.Active, m.Rebuilding
		m.Rebuilding, m.Checkpoint, m.Done, m.Views = "", "", 0, ""
		m.Epoch++
	})
	if err != nil {
		return fmt.Errorf("switch to generation %s: %w", r.gen, err)
	}
	r.res.Previous = previous
	return nil
}

// report calls the progress callback when due (or always at the end).
func (r *rebuilder) report(final bool) {
	if r.opts.Progress == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(r.lastReport) < r.opts.ProgressInterval {
		return
	}
	r.lastReport = now
	p := Progress{Done: r.done}
	switch {
	case r.total == 0: // unknown
	case final:
		p.Total = r.done
	default:
		p.Total = max(r.total, r.done)
	}
	if secs := now.Sub(r.start).Seconds(); secs > 0 {
		p.Rate = float64(r.res.Events) / secs
	}
	if p.Rate > 0 && p.Total > p.Done {
		p.ETA = time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
	}
	r.opts.Progress(p)
}

func (r *rebuilder) result() RebuildResult {
	res := r.res
	res.Elapsed = time.Since(r.start)
	return res
}
