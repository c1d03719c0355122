package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/faults/faultstest"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/testlog"
)

type env struct {
	m       *faults.Manager
	fake    *faultstest.Fake
	reg     *prometheus.Registry
	logs    *testlog.Buffer
	store   faults.Store
	options faults.Options
}

func newEnv(t *testing.T, store faults.Store, tweak func(*faults.Options)) *env {
	t.Helper()
	e := &env{fake: faultstest.New("alpha", "beta"), reg: prometheus.NewRegistry(), logs: &testlog.Buffer{}, store: store}
	e.options = faults.Options{
		Drivers: []faults.Driver{e.fake}, Store: store,
		Logger:  slog.New(logging.NewHandler(e.logs, slog.LevelDebug, "admin-server", "test")),
		Metrics: faults.NewMetrics(e.reg), DefaultTTL: 30 * time.Second, MaxTTL: 120 * time.Second,
		RetryDelay: 20 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&e.options)
	}
	e.m = faults.NewManager(e.options)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.Close(context.Background()) })
	return e
}

func req(typ, target string, params map[string]any, ttl time.Duration) faults.Request {
	return faults.Request{Type: typ, Target: target, Params: params, TTL: ttl}
}

func TestValidate(t *testing.T) {
	e := newEnv(t, nil, nil)
	tests := []struct {
		name       string
		req        faults.Request
		wantErr    string
		wantParams map[string]any
		wantTTL    int64
	}{
		{"defaults filled", req("fake.slow", "alpha", nil, 0), "", map[string]any{"delay_ms": int64(100), "mode": "a"}, 30},
		{"explicit values", req("fake.slow", "alpha", map[string]any{"delay_ms": json.Number("1000"), "mode": "b"}, 120*time.Second), "", map[string]any{"delay_ms": int64(1000), "mode": "b"}, 120},
		{"float that is an integer", req("fake.slow", "alpha", map[string]any{"delay_ms": 5.0}, 0), "", map[string]any{"delay_ms": int64(5), "mode": "a"}, 30},
		{"null param takes default", req("fake.slow", "alpha", map[string]any{"delay_ms": nil}, 0), "", map[string]any{"delay_ms": int64(100), "mode": "a"}, 30},
		{"unknown type", req("fake.nope", "alpha", nil, 0), `type: unknown fault type "fake.nope"`, nil, 0},
		{"unknown param", req("fake.slow", "alpha", map[string]any{"speed": 1}, 0), "params.speed: unknown parameter for fake.slow (accepted: delay_ms, mode)", nil, 0},
		{"param on type without params", req("fake.off", "alpha", map[string]any{"x": 1}, 0), "accepted: none", nil, 0},
		{"below minimum", req("fake.slow", "alpha", map[string]any{"delay_ms": 0}, 0), "params.delay_ms: must be between 1 and 1000, got 0", nil, 0},
		{"above maximum", req("fake.slow", "alpha", map[string]any{"delay_ms": json.Number("1001")}, 0), "params.delay_ms: must be between 1 and 1000, got 1001", nil, 0},
		{"fraction", req("fake.slow", "alpha", map[string]any{"delay_ms": 1.5}, 0), "params.delay_ms: must be an integer", nil, 0},
		{"string for integer", req("fake.slow", "alpha", map[string]any{"delay_ms": "5"}, 0), "params.delay_ms: must be an integer", nil, 0},
		{"enum outside", req("fake.slow", "alpha", map[string]any{"mode": "c"}, 0), `params.mode: must be one of [a b], got "c"`, nil, 0},
		{"enum wrong type", req("fake.slow", "alpha", map[string]any{"mode": 1}, 0), "params.mode: must be a string", nil, 0},
		{"ttl over maximum", req("fake.off", "alpha", nil, 121*time.Second), "ttl: 121 s is over the maximum of 120 s for fake.off", nil, 0},
		{"ttl fraction", req("fake.off", "alpha", nil, 1500*time.Millisecond), "ttl: must be a whole number of seconds", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := e.m.Validate(tt.req)
			if tt.wantErr != "" {
				var ve *faults.ValidationError
				if err == nil || !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() error = %v, want a ValidationError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() error = %v", err)
			}
			if got, _ := json.Marshal(f.Params); string(got) != mustJSON(tt.wantParams) {
				t.Errorf("params = %s, want %s", got, mustJSON(tt.wantParams))
			}
			if f.TTLSeconds != tt.wantTTL {
				t.Errorf("ttl = %d, want %d", f.TTLSeconds, tt.wantTTL)
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestInjectRevertLifecycle(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	actor := faults.Actor{Name: "api:test", RemoteAddr: "10.0.0.1", RequestID: "rid-1"}

	f, err := e.m.Inject(ctx, req("fake.slow", "alpha", map[string]any{"delay_ms": 7}, 0), actor)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != faults.StateActive || f.ID == "" || f.ExpiresAt.Sub(f.InjectedAt) != 30*time.Second || f.Actor != "api:test" {
		t.Fatalf("injected fault = %+v", f)
	}
	if got := testutil.ToFloat64(gauge(e.reg, t, "fake.slow", "alpha")); got != 1 {
		t.Fatalf("infralab_fault_active = %v, want 1", got)
	}

	// Same type and target conflicts; another target does not.
	if _, err := e.m.Inject(ctx, req("fake.slow", "alpha", nil, 0), actor); !errors.Is(err, faults.ErrConflict) {
		t.Fatalf("second inject error = %v, want ErrConflict", err)
	}
	if _, err := e.m.Inject(ctx, req("fake.slow", "beta", nil, 0), actor); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Inject(ctx, req("fake.slow", "gamma", nil, 0), actor); !errors.Is(err, faults.ErrUnknownTarget) {
		t.Fatalf("unknown target error = %v", err)
	}
	if n := len(e.m.Active()); n != 2 {
		t.Fatalf("active = %d, want 2", n)
	}

	r, err := e.m.Revert(ctx, f.ID, actor)
	if err != nil || r.State != faults.StateReverted || r.EndReason != "api" || r.EndedAt == nil {
		t.Fatalf("Revert() = %+v, %v", r, err)
	}
	if _, err := e.m.Revert(ctx, f.ID, actor); !errors.Is(err, faults.ErrNotFound) {
		t.Fatalf("second revert error = %v, want ErrNotFound", err)
	}
	if got := testutil.ToFloat64(gauge(e.reg, t, "fake.slow", "alpha")); got != 0 {
		t.Fatalf("infralab_fault_active after revert = %v, want 0", got)
	}
	done, err := e.m.RevertAll(ctx, actor)
	if err != nil || len(done) != 1 || len(e.m.Active()) != 0 || len(e.fake.Applied()) != 0 {
		t.Fatalf("RevertAll() = %v, %v; active %v applied %v", done, err, e.m.Active(), e.fake.Applied())
	}
	if h := e.m.History(0); len(h) != 2 || h[0].ID != done[0].ID {
		t.Fatalf("history (newest first) = %+v", h)
	}
	if g, err := e.m.Get(f.ID); err != nil || g.State != faults.StateReverted {
		t.Fatalf("Get(past) = %+v, %v", g, err)
	}

	// One audit line per action, with who, what and the result.
	var inject map[string]any
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	for _, l := range lines {
		if strings.Contains(l, `"action":"inject"`) && strings.Contains(l, `"result":"ok"`) {
			_ = json.Unmarshal([]byte(l), &inject)
			break
		}
	}
	want := map[string]any{"event": "audit", "actor": "api:test", "remote_addr": "10.0.0.1", "request_id": "rid-1",
		"type": "fake.slow", "target": "alpha", "fault_id": f.ID, "ttl_seconds": float64(30)}
	for k, v := range want {
		if inject[k] != v {
			t.Errorf("audit %s = %v, want %v (line %v)", k, inject[k], v, inject)
		}
	}
	if inject["ts"] == nil {
		t.Error("audit line lacks ts")
	}
	for _, want := range []string{`"action":"inject","actor":"api:test","result":"rejected"`, `"action":"revert"`} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if got := testutil.ToFloat64(counter(e.reg, t, "infralab_fault_injections_total", map[string]string{"type": "fake.slow", "result": "ok"})); got != 2 {
		t.Errorf("injections ok = %v, want 2", got)
	}
}

func TestInjectBackendFailure(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.fake.InjectErr = errors.New("backend down")
	_, err := e.m.Inject(context.Background(), req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	var be *faults.BackendError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "backend down") {
		t.Fatalf("error = %v, want BackendError", err)
	}
	if len(e.m.Active()) != 0 {
		t.Fatal("failed injection left an active fault")
	}
	if h := e.m.History(1); len(h) != 1 || h[0].State != faults.StateFailed {
		t.Fatalf("history = %+v", h)
	}
}

func TestFaultExpiresByTTL(t *testing.T) {
	e := newEnv(t, nil, nil)
	f, err := e.m.Inject(context.Background(), req("fake.off", "alpha", nil, time.Second), faults.Actor{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, func() bool { return len(e.m.Active()) == 0 })
	g, _ := e.m.Get(f.ID)
	if g.State != faults.StateExpired || g.EndReason != "expired" || len(e.fake.Applied()) != 0 {
		t.Fatalf("after TTL: %+v, applied %v", g, e.fake.Applied())
	}
	if !strings.Contains(e.logs.String(), `"action":"expired","actor":"ttl","result":"ok"`) {
		t.Errorf("no audit line for the expiry:\n%s", e.logs.String())
	}
}

func TestRevertFailureRetries(t *testing.T) {
	e := newEnv(t, nil, func(o *faults.Options) { o.MaxRetries = 3 })
	ctx := context.Background()
	f, _ := e.m.Inject(ctx, req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	e.fake.SetRevertErr(errors.New("flaky"))
	if _, err := e.m.Revert(ctx, f.ID, faults.Actor{Name: "api"}); err == nil {
		t.Fatal("Revert() succeeded with a failing driver")
	}
	if a := e.m.Active(); len(a) != 1 || a[0].RevertAttempts != 1 || a[0].Error != "flaky" {
		t.Fatalf("active after failed revert = %+v", a)
	}
	e.fake.SetRevertErr(nil) // the retry timer (20 ms) now succeeds
	waitFor(t, 2*time.Second, func() bool { return len(e.m.Active()) == 0 })
	if g, _ := e.m.Get(f.ID); g.State != faults.StateReverted || g.EndReason != "retry" {
		t.Fatalf("after retry: %+v", g)
	}

	// Giving up after MaxRetries leaves a revert_failed record and an error line.
	f2, _ := e.m.Inject(ctx, req("fake.off", "beta", nil, 0), faults.Actor{Name: "api"})
	e.fake.SetRevertErr(errors.New("gone for good"))
	_, _ = e.m.Revert(ctx, f2.ID, faults.Actor{Name: "api"})
	waitFor(t, 2*time.Second, func() bool { return len(e.m.Active()) == 0 })
	if g, _ := e.m.Get(f2.ID); g.State != faults.StateRevertFailed || g.RevertAttempts != 3 {
		t.Fatalf("after giving up: %+v", g)
	}
	if got := testutil.ToFloat64(counter(e.reg, t, "infralab_fault_revert_failures_total", map[string]string{"type": "fake.off"})); got != 4 {
		t.Errorf("revert failures = %v, want 4", got)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	store, err := faults.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store, nil)
	ctx := context.Background()
	keep, _ := e.m.Inject(ctx, req("fake.slow", "alpha", nil, 60*time.Second), faults.Actor{Name: "api"})
	stale, _ := e.m.Inject(ctx, req("fake.off", "beta", nil, 60*time.Second), faults.Actor{Name: "api"})
	e.m.Close(ctx) // a persistent store keeps faults in effect across the restart

	// Pretend the admin-server was down past the second fault's expiry.
	st, err := store.Load()
	if err != nil || len(st.Active) != 2 {
		t.Fatalf("saved state = %+v, %v", st, err)
	}
	for i := range st.Active {
		if st.Active[i].ID == stale.ID {
			st.Active[i].ExpiresAt = time.Now().Add(-time.Second)
		}
	}
	if err := store.Save(st); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, faults.StateFile)); err != nil {
		t.Fatal(err)
	}

	e2 := &env{fake: e.fake, reg: prometheus.NewRegistry()}
	o := e.options
	o.Metrics = faults.NewMetrics(e2.reg)
	m2 := faults.NewManager(o)
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m2.Close(ctx)
	waitFor(t, 2*time.Second, func() bool { return len(m2.Active()) == 1 })
	if a := m2.Active(); a[0].ID != keep.ID || a[0].DriverData["handle"] != "h-"+keep.ID {
		t.Fatalf("active after restart = %+v", a)
	}
	if g, _ := m2.Get(stale.ID); g.State != faults.StateReverted || g.EndReason != "reconciled" {
		t.Fatalf("stale fault after restart = %+v", g)
	}
	if got := testutil.ToFloat64(gauge(e2.reg, t, "fake.slow", "alpha")); got != 1 {
		t.Errorf("gauge after restart = %v, want 1", got)
	}
}

func TestMemoryStoreRevertsAtShutdown(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, _ = e.m.Inject(context.Background(), req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	e.m.Close(context.Background())
	if len(e.fake.Applied()) != 0 {
		t.Fatalf("faults still applied after Close with a memory store: %v", e.fake.Applied())
	}
}

func TestFileStoreRefusesUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := faults.OpenFileStore(filepath.Join(file, "sub")); err == nil {
		t.Fatal("OpenFileStore under a file succeeded")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gauge(reg *prometheus.Registry, t *testing.T, typ, target string) prometheus.Collector {
	return collectorFor(reg, t, "infralab_fault_active", map[string]string{"type": typ, "target": target})
}

func counter(reg *prometheus.Registry, t *testing.T, name string, labels map[string]string) prometheus.Collector {
	return collectorFor(reg, t, name, labels)
}

// collectorFor finds one series by name and labels in a gathered registry.
func collectorFor(reg *prometheus.Registry, t *testing.T, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					match = false
				}
			}
			if match {
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
				g.Set(v)
				return g
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

func newFuzzFake() faults.Driver { return faultstest.New("alpha", "beta") }

// A caller that gives up (cancelled request) must not leave a half-applied fault.
func TestCancelledCallerStillCompletesBackendCall(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, err := e.m.Inject(ctx, req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	if err != nil || len(e.fake.Applied()) != 1 {
		t.Fatalf("Inject(cancelled ctx) = %v, applied %v", err, e.fake.Applied())
	}
	if _, err := e.m.Revert(ctx, f.ID, faults.Actor{Name: "api"}); err != nil || len(e.fake.Applied()) != 0 {
		t.Fatalf("Revert(cancelled ctx) = %v, applied %v", err, e.fake.Applied())
	}
}

// A failed injection is undone best effort: the backend may have half-applied it.
func TestFailedInjectionIsCleanedUp(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.fake.InjectErr = &url.Error{Op: "Post", URL: "http://toxiproxy:8474/proxies/ext-api/toxics", Err: context.DeadlineExceeded}
	_, _ = e.m.Inject(context.Background(), req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	if _, reverts := e.fake.Counts(); reverts != 1 {
		t.Fatalf("reverts after a timed-out injection = %d, want 1", reverts)
	}
	// A definite refusal (an HTTP answer) is not "cleaned up": it may be someone else's fault.
	e.fake.InjectErr = errors.New("core-server answered 409: cpu already active")
	_, _ = e.m.Inject(context.Background(), req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	if _, reverts := e.fake.Counts(); reverts != 1 {
		t.Fatalf("reverts after a refused injection = %d, want still 1", reverts)
	}
}

// TestOnRevertFailureHook: every failed revert reaches the hook (error tracking) with
// the fault, the reason and whether the manager gave up.
func TestOnRevertFailureHook(t *testing.T) {
	var mu sync.Mutex
	var got []faults.RevertFailure
	e := newEnv(t, nil, func(o *faults.Options) {
		o.MaxRetries = 2
		o.OnRevertFailure = func(_ context.Context, rf faults.RevertFailure) {
			mu.Lock()
			got = append(got, rf)
			mu.Unlock()
		}
	})
	ctx := context.Background()
	f, _ := e.m.Inject(ctx, req("fake.off", "alpha", nil, 0), faults.Actor{Name: "api"})
	e.fake.SetRevertErr(errors.New("stuck"))
	_, _ = e.m.Revert(ctx, f.ID, faults.Actor{Name: "api"})
	// The hook runs after the fault has left the active set: wait for the hook, not the set.
	waitFor(t, 2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	})
	if n := len(e.m.Active()); n != 0 {
		t.Fatalf("%d faults still active after giving up", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("hook calls = %+v, want 2", got)
	}
	first, last := got[0], got[1]
	if first.Fault.ID != f.ID || first.Fault.Type != "fake.off" || first.Fault.Target != "alpha" ||
		first.Reason != "api" || first.GaveUp || first.Fault.RevertAttempts != 1 || first.Err == nil {
		t.Errorf("first call = %+v", first)
	}
	if last.Reason != "retry" || !last.GaveUp || last.Fault.RevertAttempts != 2 {
		t.Errorf("last call = %+v", last)
	}
}
