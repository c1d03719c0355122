package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultTTL          = 60 * time.Second
	DefaultMaxTTL       = 600 * time.Second
	DefaultRetryDelay   = 10 * time.Second
	DefaultMaxRetries   = 10
	DefaultOpTimeout    = 15 * time.Second
	DefaultHistoryLimit = 200
)

// Actor is who asked for an action, for the audit log.
type Actor struct {
	Name       string // "api", "ui", a caller-supplied name, or "ttl"/"reconcile"/"shutdown"
	RemoteAddr string
	RequestID  string
}

// Options configures a Manager. Zero values take the defaults above.
type Options struct {
	Drivers      []Driver
	Store        Store
	Logger       *slog.Logger
	Metrics      *Metrics
	DefaultTTL   time.Duration
	MaxTTL       time.Duration
	RetryDelay   time.Duration
	MaxRetries   int
	OpTimeout    time.Duration
	HistoryLimit int
	Now          func() time.Time
	// OnRevertFailure, when set, is told about every failed revert (error tracking).
	// It runs synchronously and must not call back into the Manager.
	OnRevertFailure func(ctx context.Context, rf RevertFailure)
}

// RevertFailure describes one failed attempt to revert a fault.
type RevertFailure struct {
	Fault  Fault  // after the attempt: RevertAttempts and Error filled in
	Reason string // api, expired, retry, reconciled, shutdown, or inject_cleanup
	GaveUp bool   // no more retries: the fault may stay in effect
	Err    error
}

func (m *Manager) revertFailed(ctx context.Context, rf RevertFailure) {
	if m.o.OnRevertFailure != nil {
		m.o.OnRevertFailure(ctx, rf)
	}
}

// Manager owns every fault: validation, injection, TTL expiry, revert with retries,
// persistence and the audit trail. Backend operations are serialised (ops), state is
// guarded by mu; reads never wait for a backend.
//
// Every goroutine the Manager starts (a TTL or retry timer that fired, the revert of
// overdue faults after Start) is tracked in bg and runs under bgCtx: Close waits for
// them, cancels them when its context ends, and after Close nothing saves the state.
type Manager struct {
	o         Options
	types     map[string]Type
	typeOrder []string
	drivers   map[string]Driver // by type name

	ops     sync.Mutex
	mu      sync.Mutex
	active  map[string]*Fault
	history []Fault // oldest first
	timers  map[string]*time.Timer
	closed  bool // Close has begun: no timer is armed, no background work starts

	bg       sync.WaitGroup // background work; Add only under mu while !closed
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// NewManager builds a manager over the drivers' types.
func NewManager(o Options) *Manager {
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.DefaultTTL > o.MaxTTL {
		o.DefaultTTL = o.MaxTTL
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = DefaultHistoryLimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store == nil {
		o.Store = &MemoryStore{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	m := &Manager{o: o, types: map[string]Type{}, drivers: map[string]Driver{},
		active: map[string]*Fault{}, timers: map[string]*time.Timer{}}
	m.bgCtx, m.bgCancel = context.WithCancel(context.Background())
	for _, d := range o.Drivers {
		for _, t := range d.Types() {
			t.Driver = d.Name()
			m.types[t.Name] = t
			m.drivers[t.Name] = d
			m.typeOrder = append(m.typeOrder, t.Name)
		}
	}
	o.Metrics.initTypes(m.typeOrder)
	return m
}

// TypeInfo is a fault type as the API lists it, with its effective TTL limits.
type TypeInfo struct {
	Type
	DefaultTTLSeconds int64 `json:"default_ttl_seconds"`
	MaxTTLSeconds     int64 `json:"max_ttl_seconds"`
}

// Types lists every fault type in registration order.
func (m *Manager) Types() []TypeInfo {
	out := make([]TypeInfo, 0, len(m.typeOrder))
	for _, name := range m.typeOrder {
		t := m.types[name]
		maxTTL := m.maxTTL(t)
		def := min(m.o.DefaultTTL, maxTTL)
		out = append(out, TypeInfo{Type: t, DefaultTTLSeconds: int64(def / time.Second), MaxTTLSeconds: int64(maxTTL / time.Second)})
	}
	return out
}

// Type returns one fault type.
func (m *Manager) Type(name string) (Type, bool) { t, ok := m.types[name]; return t, ok }

func (m *Manager) maxTTL(t Type) time.Duration {
	if t.MaxTTL > 0 && t.MaxTTL < m.o.MaxTTL {
		return t.MaxTTL
	}
	return m.o.MaxTTL
}

// StoreInfo tells whether the state survives a restart and where it lives.
func (m *Manager) StoreInfo() (persistent bool, where string) {
	return m.o.Store.Persistent(), m.o.Store.Where()
}

// TargetList is the answer of Targets for one driver.
type TargetList struct {
	Driver  string   `json:"driver"`
	Types   []string `json:"types"`
	Targets []string `json:"targets"`
	Error   string   `json:"error,omitempty"`
}

// Targets asks every driver what it can target now.
func (m *Manager) Targets(ctx context.Context) []TargetList {
	var out []TargetList
	seen := map[string]int{}
	for _, name := range m.typeOrder {
		d := m.drivers[name]
		i, ok := seen[d.Name()]
		if !ok {
			tl := TargetList{Driver: d.Name(), Targets: []string{}}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ts, err := d.Targets(cctx)
			cancel()
			if err != nil {
				tl.Error = err.Error()
			} else {
				tl.Targets = ts
			}
			out = append(out, tl)
			i = len(out) - 1
			seen[d.Name()] = i
		}
		out[i].Types = append(out[i].Types, name)
	}
	return out
}

// Validate turns a request into an unsaved fault, or a *ValidationError.
func (m *Manager) Validate(req Request) (*Fault, error) {
	t, ok := m.types[req.Type]
	if !ok {
		return nil, invalid("type", "unknown fault type %q (known: %s)", req.Type, strings.Join(m.typeOrder, ", "))
	}
	params, err := normalizeParams(t, req.Params)
	if err != nil {
		return nil, err
	}
	ttl := req.TTL
	maxTTL := m.maxTTL(t)
	if ttl == 0 {
		ttl = min(m.o.DefaultTTL, maxTTL)
	}
	if ttl%time.Second != 0 {
		return nil, invalid("ttl", "must be a whole number of seconds")
	}
	if ttl > maxTTL {
		return nil, invalid("ttl", "%d s is over the maximum of %d s for %s", int64(ttl/time.Second), int64(maxTTL/time.Second), t.Name)
	}
	if ttl < time.Second {
		return nil, invalid("ttl", "must be at least 1 s")
	}
	return &Fault{Type: t.Name, Target: req.Target, Params: params, TTLSeconds: int64(ttl / time.Second)}, nil
}

// Inject validates, resolves the target, checks conflicts and applies the fault.
// Errors: *ValidationError or ErrUnknownTarget (400), ErrConflict (409), *BackendError (502).
func (m *Manager) Inject(ctx context.Context, req Request, actor Actor) (Fault, error) {
	f, err := m.Validate(req)
	if err != nil {
		m.o.Metrics.injections.WithLabelValues(metricType(m, req.Type), "rejected").Inc()
		m.audit(ctx, "inject", actor, &Fault{Type: req.Type, Target: req.Target, Params: req.Params, TTLSeconds: int64(req.TTL / time.Second)}, err)
		return Fault{}, err
	}
	d := m.drivers[f.Type]
	m.ops.Lock()
	defer m.ops.Unlock()

	// A client that gives up must not cut a backend call in half (a toxic created but
	// never recorded would outlive every TTL): backend calls get their own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.OpTimeout)
	defer cancel()
	fail := func(result string, err error) (Fault, error) {
		m.o.Metrics.injections.WithLabelValues(f.Type, result).Inc()
		m.audit(ctx, "inject", actor, f, err)
		return Fault{}, err
	}
	if err := d.Resolve(ctx, f); err != nil {
		if errors.Is(err, ErrUnknownTarget) {
			return fail("rejected", err)
		}
		return fail("failed", &BackendError{Op: "resolve target " + f.Target, Err: err})
	}
	key := d.ConflictKey(f)
	m.mu.Lock()
	for _, a := range m.active {
		if m.drivers[a.Type].Name() == d.Name() && d.ConflictKey(a) == key {
			m.mu.Unlock()
			return fail("rejected", fmt.Errorf("%w: %s on %s (id %s, expires %s) occupies %s",
				ErrConflict, a.Type, a.Target, a.ID, a.ExpiresAt.UTC().Format(time.RFC3339), key))
		}
	}
	m.mu.Unlock()

	now := m.o.Now().UTC()
	f.ID = newID()
	f.Actor = actor.Name
	f.InjectedAt = now
	f.ExpiresAt = now.Add(time.Duration(f.TTLSeconds) * time.Second)
	f.State = StateActive
	if err := d.Inject(ctx, f); err != nil {
		// When the outcome is unknown (timeout, broken connection) the backend may have
		// applied it: undo best effort, reverts are idempotent. A definite refusal (an
		// HTTP answer such as the service's own 409) is left alone: reverting then could
		// undo someone else's fault.
		if ambiguous(err) {
			if rerr := d.Revert(ctx, f); rerr != nil {
				m.o.Logger.Warn("cleanup after a failed injection failed", slog.String("fault_id", f.ID),
					slog.String("type", f.Type), slog.String("target", f.Target), slog.String("error", rerr.Error()))
				m.revertFailed(ctx, RevertFailure{Fault: cloneFault(f), Reason: "inject_cleanup", GaveUp: true,
					Err: &BackendError{Op: "revert " + f.Type + " on " + f.Target + " after a failed injection", Err: rerr}})
			}
		}
		be := &BackendError{Op: "inject " + f.Type + " on " + f.Target, Err: err}
		ended := now
		f.State, f.Error, f.EndedAt = StateFailed, err.Error(), &ended
		m.mu.Lock()
		m.appendHistory(*f)
		m.mu.Unlock()
		m.persist()
		return fail("failed", be)
	}
	m.mu.Lock()
	m.active[f.ID] = f
	m.armLocked(f.ID, f.ExpiresAt, "expired")
	m.setGaugeLocked(f.Type, f.Target)
	out := cloneFault(f)
	m.mu.Unlock()
	m.persist()
	m.o.Metrics.injections.WithLabelValues(f.Type, "ok").Inc()
	m.audit(ctx, "inject", actor, &out, nil)
	return out, nil
}

func metricType(m *Manager, name string) string {
	if _, ok := m.types[name]; ok {
		return name
	}
	return "unknown" // arbitrary request text must not become a label
}

// Active lists the active faults, oldest first.
func (m *Manager) Active() []Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Fault, 0, len(m.active))
	for _, f := range m.active {
		out = append(out, cloneFault(f))
	}
	slices.SortFunc(out, func(a, b Fault) int { return a.InjectedAt.Compare(b.InjectedAt) })
	return out
}

// Get returns an active or past fault.
func (m *Manager) Get(id string) (Fault, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.active[id]; ok {
		return cloneFault(f), nil
	}
	for i := len(m.history) - 1; i >= 0; i-- {
		if m.history[i].ID == id {
			return m.history[i], nil
		}
	}
	return Fault{}, ErrNotFound
}

// History returns ended faults, newest first, at most limit (0: all kept).
func (m *Manager) History(limit int) []Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.history)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]Fault, 0, limit)
	for i := n - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, m.history[i])
	}
	return out
}

// Revert ends one active fault now.
func (m *Manager) Revert(ctx context.Context, id string, actor Actor) (Fault, error) {
	return m.revert(ctx, id, actor, "api")
}

// RevertAll reverts every active fault; it returns those ended and the errors of the others.
func (m *Manager) RevertAll(ctx context.Context, actor Actor) ([]Fault, error) {
	return m.revertAll(ctx, actor, "api")
}

func (m *Manager) revertAll(ctx context.Context, actor Actor, reason string) ([]Fault, error) {
	var done []Fault
	var errs []error
	for _, f := range m.Active() {
		r, err := m.revert(ctx, f.ID, actor, reason)
		if errors.Is(err, ErrNotFound) {
			continue // ended meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s on %s): %w", f.ID, f.Type, f.Target, err))
			continue
		}
		done = append(done, r)
	}
	return done, errors.Join(errs...)
}

func (m *Manager) revert(ctx context.Context, id string, actor Actor, reason string) (Fault, error) {
	m.ops.Lock()
	defer m.ops.Unlock()
	m.mu.Lock()
	f, ok := m.active[id]
	if !ok {
		m.mu.Unlock()
		return Fault{}, ErrNotFound
	}
	if t := m.timers[id]; t != nil {
		t.Stop()
		delete(m.timers, id)
	}
	work := cloneFault(f)
	m.mu.Unlock()

	if reason != "api" && reason != "shutdown" && ctx.Err() != nil {
		// Background work that waited for ops while Close gave up on it: leave the
		// fault as it is, the next start reconciles it.
		return Fault{}, ctx.Err()
	}
	if reason == "api" {
		ctx = context.WithoutCancel(ctx) // as in Inject: finish what was started
	}
	ctx, cancel := context.WithTimeout(ctx, m.o.OpTimeout) // shutdown keeps its own budget
	defer cancel()
	err := m.drivers[work.Type].Revert(ctx, &work)
	if err != nil && reason != "api" && reason != "shutdown" && m.bgCtx.Err() != nil {
		// Close cut this background revert off: not a failed attempt. Leave the fault
		// as it is (no attempt counted, no retry, no audit or report), the next start
		// reconciles it.
		return Fault{}, err
	}
	action := "revert"
	if reason != "api" {
		action = reason
	}
	if err != nil {
		m.o.Metrics.revertFailures.WithLabelValues(work.Type).Inc()
		m.mu.Lock()
		f.RevertAttempts++
		f.Error = err.Error()
		gaveUp := f.RevertAttempts >= m.o.MaxRetries
		if gaveUp {
			m.endLocked(f, StateRevertFailed, reason)
		} else {
			m.armLocked(id, m.o.Now().Add(m.o.RetryDelay), "retry")
		}
		out := cloneFault(f)
		m.mu.Unlock()
		m.persist()
		be := &BackendError{Op: "revert " + work.Type + " on " + work.Target, Err: err}
		m.audit(ctx, action, actor, &out, be)
		if gaveUp {
			m.o.Logger.Error("gave up reverting a fault: it may still be in effect, revert it by hand",
				slog.String("fault_id", id), slog.String("type", out.Type), slog.String("target", out.Target),
				slog.Int("attempts", out.RevertAttempts))
		}
		m.revertFailed(ctx, RevertFailure{Fault: out, Reason: reason, GaveUp: gaveUp, Err: be})
		return out, be
	}
	m.mu.Lock()
	state := StateReverted
	if reason == "expired" {
		state = StateExpired
	}
	f.DriverData = work.DriverData
	f.Error = ""
	m.endLocked(f, state, reason)
	out := cloneFault(f)
	m.mu.Unlock()
	m.persist()
	m.o.Metrics.reverts.WithLabelValues(out.Type, reason).Inc()
	m.audit(ctx, action, actor, &out, nil)
	return out, nil
}

// endLocked moves f from active to history.
func (m *Manager) endLocked(f *Fault, state, reason string) {
	now := m.o.Now().UTC()
	f.State, f.EndReason, f.EndedAt = state, reason, &now
	delete(m.active, f.ID)
	if t := m.timers[f.ID]; t != nil {
		t.Stop()
		delete(m.timers, f.ID)
	}
	m.appendHistory(cloneFault(f))
	m.setGaugeLocked(f.Type, f.Target)
}

func (m *Manager) appendHistory(f Fault) {
	m.history = append(m.history, f)
	if over := len(m.history) - m.o.HistoryLimit; over > 0 {
		m.history = slices.Delete(m.history, 0, over)
	}
}

func (m *Manager) setGaugeLocked(typ, target string) {
	n := 0
	for _, a := range m.active {
		if a.Type == typ && a.Target == target {
			n++
		}
	}
	m.o.Metrics.active.WithLabelValues(typ, target).Set(float64(n))
}

// armLocked (re)schedules the end of id at `at`; reason is "expired" or "retry".
func (m *Manager) armLocked(id string, at time.Time, reason string) {
	if m.closed {
		return
	}
	if t := m.timers[id]; t != nil {
		t.Stop()
	}
	d := max(at.Sub(m.o.Now()), 0)
	m.timers[id] = time.AfterFunc(d, func() {
		if !m.enterBackground() {
			return
		}
		defer m.bg.Done()
		r := "expired"
		if reason == "retry" && m.isBeforeExpiry(id) {
			r = "retry"
		}
		_, _ = m.revert(m.bgCtx, id, Actor{Name: "ttl"}, r)
	})
}

// enterBackground registers one piece of background work with Close, or reports
// false once Close has begun. The caller must call m.bg.Done when it ends. Add
// happens under mu while !closed and Close sets closed under mu before it waits, so
// no Add can race the Wait.
func (m *Manager) enterBackground() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.bg.Add(1)
	return true
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *Manager) isBeforeExpiry(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.active[id]
	return ok && m.o.Now().Before(f.ExpiresAt)
}

// Start loads the saved state and reconciles it: faults whose TTL passed while the
// admin-server was down are reverted (in the background, with retries), the others
// get their timers back.
func (m *Manager) Start(ctx context.Context) error {
	st, err := m.o.Store.Load()
	if err != nil {
		return err
	}
	now := m.o.Now()
	var overdue []string
	m.mu.Lock()
	m.history = append(m.history, st.History...)
	for i := range st.Active {
		f := st.Active[i]
		if _, ok := m.types[f.Type]; !ok {
			ended := now.UTC()
			f.State, f.EndedAt, f.EndReason, f.Error = StateRevertFailed, &ended, "reconciled", "fault type unknown to this version"
			m.appendHistory(f)
			continue
		}
		m.active[f.ID] = &f
		m.setGaugeLocked(f.Type, f.Target)
		if !now.Before(f.ExpiresAt) {
			overdue = append(overdue, f.ID)
		} else {
			m.armLocked(f.ID, f.ExpiresAt, "expired")
		}
		m.audit(ctx, "reconcile", Actor{Name: "reconcile"}, &f, nil)
	}
	m.mu.Unlock()
	if len(st.Active) > 0 {
		m.o.Logger.Info("reconciled faults from the state file", slog.Int("active", len(st.Active)),
			slog.Int("overdue", len(overdue)), slog.String("state", m.o.Store.Where()))
	}
	if len(overdue) > 0 && m.enterBackground() {
		go func() {
			defer m.bg.Done()
			for _, id := range overdue {
				if m.isClosed() {
					return // the rest stay in the state file, overdue, for the next start
				}
				_, _ = m.revert(m.bgCtx, id, Actor{Name: "reconcile"}, "reconciled")
			}
		}()
	}
	return nil
}

// Close stops the timers and waits, within ctx, for the reverts already running in
// the background (a timer that fired, the reconcile after Start; the latter starts no
// further revert); when ctx ends it cancels them and waits for them to stop (every
// driver call ends when its context is cancelled). With a persistent store the
// faults stay in effect and are reconciled at the next start; without one nothing
// would ever revert them, so they are reverted now (best effort within ctx). Once
// Close returns no background work is left to save the state.
func (m *Manager) Close(ctx context.Context) {
	// Stop the timers first, so a failed revert below schedules no retry after exit.
	m.mu.Lock()
	m.closed = true
	for id, t := range m.timers {
		t.Stop()
		delete(m.timers, id)
	}
	m.mu.Unlock()
	m.waitBackground(ctx)
	if !m.o.Store.Persistent() {
		if _, err := m.revertAll(ctx, Actor{Name: "shutdown"}, "shutdown"); err != nil {
			m.o.Logger.Error("reverting faults at shutdown failed; they stay in effect until their backends expire them",
				slog.String("error", err.Error()))
		}
	}
}

// waitBackground waits for the tracked goroutines; when ctx ends first it cancels
// them (bgCtx) and waits for them to return.
func (m *Manager) waitBackground(ctx context.Context) {
	stop := context.AfterFunc(ctx, m.bgCancel)
	m.bg.Wait()
	stop()
	m.bgCancel()
}

func (m *Manager) persist() {
	m.mu.Lock()
	st := State{Active: make([]Fault, 0, len(m.active)), History: slices.Clone(m.history)}
	for _, f := range m.active {
		st.Active = append(st.Active, cloneFault(f))
	}
	m.mu.Unlock()
	slices.SortFunc(st.Active, func(a, b Fault) int { return a.InjectedAt.Compare(b.InjectedAt) })
	if err := m.o.Store.Save(st); err != nil {
		m.o.Logger.Error("saving fault state failed", slog.String("state", m.o.Store.Where()), slog.String("error", err.Error()))
	}
}

// audit writes the one line per action: who, what, when (ts), result.
func (m *Manager) audit(ctx context.Context, action string, actor Actor, f *Fault, err error) {
	result := "ok"
	level := slog.LevelInfo
	if err != nil {
		result = "failed"
		level = slog.LevelWarn
		var ve *ValidationError
		if errors.As(err, &ve) || errors.Is(err, ErrUnknownTarget) || errors.Is(err, ErrConflict) {
			result = "rejected"
		}
	}
	attrs := []slog.Attr{
		slog.String("event", "audit"),
		slog.String("action", action),
		slog.String("actor", actor.Name),
		slog.String("result", result),
		slog.String("fault_id", f.ID),
		slog.String("type", f.Type),
		slog.String("target", f.Target),
		slog.Any("params", f.Params),
		slog.Int64("ttl_seconds", f.TTLSeconds),
	}
	if actor.RemoteAddr != "" {
		attrs = append(attrs, slog.String("remote_addr", actor.RemoteAddr))
	}
	if actor.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", actor.RequestID))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	m.o.Logger.LogAttrs(ctx, level, "fault "+action, attrs...)
}

// Audit records an action that is not a fault (e.g. a traffic change) in the same shape.
func (m *Manager) Audit(ctx context.Context, action string, actor Actor, details map[string]any, err error) {
	m.audit(ctx, action, actor, &Fault{Type: action, Params: details}, err)
}

func cloneFault(f *Fault) Fault {
	c := *f
	if f.Params != nil {
		c.Params = make(map[string]any, len(f.Params))
		for k, v := range f.Params {
			c.Params[k] = v
		}
	}
	if f.DriverData != nil {
		c.DriverData = make(map[string]string, len(f.DriverData))
		for k, v := range f.DriverData {
			c.DriverData[k] = v
		}
	}
	return c
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "f-" + hex.EncodeToString(b[:])
}

// TTLLimits returns the global default and maximum TTL.
func (m *Manager) TTLLimits() (def, maxTTL time.Duration) { return m.o.DefaultTTL, m.o.MaxTTL }

// ambiguous reports whether a failed backend call may still have taken effect.
func ambiguous(err error) bool {
	var ue *url.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue)
}
