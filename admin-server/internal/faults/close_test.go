package faults_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/faults/faultstest"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/testlog"
)

// recordingStore wraps a Store and notices every Save that is still running, or
// starts, after seal: a write after Manager.Close returned.
type recordingStore struct {
	faults.Store
	mu      sync.Mutex
	writing int
	sealed  bool
	late    int
}

func (s *recordingStore) Save(st faults.State) error {
	s.mu.Lock()
	s.writing++
	if s.sealed {
		s.late++
	}
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.writing--; s.mu.Unlock() }()
	return s.Store.Save(st)
}

func (s *recordingStore) seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
	s.late += s.writing
}

func (s *recordingStore) lateSaves() int { s.mu.Lock(); defer s.mu.Unlock(); return s.late }

// TestCloseAwaitsBackgroundReverts: a revert the Manager started on its own (the
// reconcile of overdue faults after Start, a TTL timer) is awaited by Close, or cut
// off through its context when Close's budget runs out; either way it has finished
// when Close returns and the state file is not written afterwards. Before the fix
// Close returned at once and the goroutine saved the state later (the flaky
// TempDir cleanup of TestStateSurvivesRestart).
func TestCloseAwaitsBackgroundReverts(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn time.Duration // of the saved faults, from now (timer cases: ample for Start to run first)
		// release the blocked revert this long into Close; 0: never, Close's context ends first
		releaseAfter time.Duration
		wantState    string // of the first fault after Close
		wantReason   string
		maxRetries   int // 0: the default
	}{
		{"reconcile finishes within the budget", -time.Minute, 50 * time.Millisecond, faults.StateReverted, "reconciled", 0},
		{"reconcile cut off at the deadline", -time.Minute, 0, faults.StateActive, "", 0},
		{"ttl timer finishes within the budget", 300 * time.Millisecond, 50 * time.Millisecond, faults.StateExpired, "expired", 0},
		{"ttl timer cut off at the deadline", 300 * time.Millisecond, 0, faults.StateActive, "", 0},
		// A revert cut off by Close is no failed attempt: on its last allowed attempt
		// it must not turn the fault revert_failed, or the next start would never
		// reconcile a fault that may still be in effect.
		{"reconcile cut off on its last attempt", -time.Minute, 0, faults.StateActive, "", 1},
		{"ttl timer cut off on its last attempt", 300 * time.Millisecond, 0, faults.StateActive, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := faults.OpenFileStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			fake := faultstest.New("alpha", "beta")
			now := time.Now().UTC()
			var saved faults.State
			for i, target := range []string{"alpha", "beta"} {
				saved.Active = append(saved.Active, fake.Apply(faults.Fault{
					ID: "f-" + target, Type: "fake.off", Target: target, TTLSeconds: 60, State: faults.StateActive,
					InjectedAt: now.Add(-time.Hour + time.Duration(i)*time.Second), ExpiresAt: now.Add(tt.expiresIn),
				}))
			}
			if err := fs.Save(saved); err != nil {
				t.Fatal(err)
			}
			store := &recordingStore{Store: fs}
			var reported atomic.Int32 // failed reverts told to error tracking
			entered, release := fake.BlockReverts()
			defer release()
			m := faults.NewManager(faults.Options{
				Drivers: []faults.Driver{fake}, Store: store, Metrics: faults.NewMetrics(prometheus.NewRegistry()),
				Logger:     slog.New(logging.NewHandler(&testlog.Buffer{}, slog.LevelDebug, "admin-server", "test")),
				RetryDelay: 10 * time.Millisecond, MaxRetries: tt.maxRetries,
				OnRevertFailure: func(context.Context, faults.RevertFailure) { reported.Add(1) },
			})
			if err := m.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			var first string
			select {
			case first = <-entered:
			case <-time.After(5 * time.Second):
				t.Fatal("no background revert started")
			}

			budget := 5 * time.Second
			if tt.releaseAfter == 0 {
				budget = 100 * time.Millisecond
			} else {
				time.AfterFunc(tt.releaseAfter, release)
			}
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			start := time.Now()
			m.Close(ctx)
			took := time.Since(start)
			store.seal()
			inFlight := fake.InFlight()
			_, revertsAtClose := fake.Counts()

			if inFlight != 0 {
				t.Errorf("%d driver reverts still running after Close returned (took %s)", inFlight, took)
			}
			if took > budget+3*time.Second {
				t.Errorf("Close took %s with a budget of %s", took, budget)
			}
			st, err := fs.Load()
			if err != nil {
				t.Fatal(err)
			}
			got := faults.Fault{}
			for _, f := range append(st.Active, st.History...) {
				if f.ID == first {
					got = f
				}
			}
			if got.State != tt.wantState || got.EndReason != tt.wantReason {
				t.Errorf("fault %s in the state file after Close: state %q reason %q, want %q %q",
					first, got.State, got.EndReason, tt.wantState, tt.wantReason)
			}
			if tt.wantState == faults.StateActive && (got.RevertAttempts != 0 || got.Error != "") {
				t.Errorf("fault %s cut off by Close was counted as a failed revert: attempts %d, error %q",
					first, got.RevertAttempts, got.Error)
			}
			if n := reported.Load(); n != 0 {
				t.Errorf("%d failed reverts reported to error tracking", n)
			}

			// Nothing the manager started may run on: no new revert, no state write.
			release()
			time.Sleep(150 * time.Millisecond)
			if n := store.lateSaves(); n != 0 {
				t.Errorf("%d state saves after Close returned", n)
			}
			if _, reverts := fake.Counts(); reverts != revertsAtClose {
				t.Errorf("%d driver reverts after Close returned", reverts-revertsAtClose)
			}
		})
	}
}
