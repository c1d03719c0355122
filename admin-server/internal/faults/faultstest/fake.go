// Package faultstest provides an in-memory fault driver for tests.
package faultstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/infra-lab/admin-server/internal/faults"
)

// Fake records what it is asked to do; its errors can be set per operation.
type Fake struct {
	mu         sync.Mutex
	targets    []string
	applied    map[string]faults.Fault // by id
	Injects    int
	Reverts    int
	InjectErr  error
	RevertErr  error // returned by Revert while set
	TargetsErr error

	gate     chan struct{} // while set, Revert waits on it (BlockReverts)
	entered  chan string
	inFlight int
}

// New returns a fake with the given targets.
func New(targets ...string) *Fake {
	return &Fake{targets: targets, applied: map[string]faults.Fault{}}
}

func (f *Fake) Name() string { return "fake" }

func (f *Fake) Types() []faults.Type {
	return []faults.Type{
		{Name: "fake.slow", Description: "test fault", Params: []faults.ParamSpec{
			{Name: "delay_ms", Kind: faults.KindInteger, Min: 1, Max: 1000, Default: int64(100)},
			{Name: "mode", Kind: faults.KindEnum, Enum: []string{"a", "b"}, Default: "a"}}},
		{Name: "fake.off", Description: "test fault without params", Params: []faults.ParamSpec{}},
	}
}

func (f *Fake) Targets(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets), f.TargetsErr
}

func (f *Fake) Resolve(_ context.Context, flt *faults.Fault) error {
	if !slices.Contains(f.targets, flt.Target) {
		return fmt.Errorf("%w %q", faults.ErrUnknownTarget, flt.Target)
	}
	return nil
}

func (f *Fake) ConflictKey(flt *faults.Fault) string { return flt.Target + "/" + flt.Type }

func (f *Fake) Inject(_ context.Context, flt *faults.Fault) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Injects++
	if f.InjectErr != nil {
		return f.InjectErr
	}
	flt.DriverData = map[string]string{"handle": "h-" + flt.ID}
	f.applied[flt.ID] = *flt
	return nil
}

func (f *Fake) Revert(ctx context.Context, flt *faults.Fault) error {
	f.mu.Lock()
	f.Reverts++
	f.inFlight++
	gate, entered := f.gate, f.entered
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if gate != nil {
		select {
		case entered <- flt.ID:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err() // like a backend call cut off by its context
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.RevertErr != nil {
		return f.RevertErr
	}
	if flt.DriverData["handle"] != "h-"+flt.ID {
		return errors.New("driver data lost")
	}
	delete(f.applied, flt.ID)
	return nil
}

// SetRevertErr changes the revert error safely while timers run.
func (f *Fake) SetRevertErr(err error) { f.mu.Lock(); f.RevertErr = err; f.mu.Unlock() }

// BlockReverts makes every later Revert wait, before doing anything, until release
// is called or the call's context ends (it then returns the context's error and
// reverts nothing), like a slow backend. Each blocked call first sends its fault id
// on entered (buffered; ids beyond the buffer are dropped). release may be called
// more than once.
func (f *Fake) BlockReverts() (entered <-chan string, release func()) {
	gate, ch := make(chan struct{}), make(chan string, 16)
	f.mu.Lock()
	f.gate, f.entered = gate, ch
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			if f.gate == gate {
				f.gate, f.entered = nil, nil
			}
			f.mu.Unlock()
			close(gate)
		})
	}
}

// InFlight returns the number of Revert calls that have not returned yet.
func (f *Fake) InFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight
}

// Apply records flt as applied without an Inject call, as a fault injected by an
// earlier process would be; it returns flt with the driver data Inject would set.
func (f *Fake) Apply(flt faults.Fault) faults.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	flt.DriverData = map[string]string{"handle": "h-" + flt.ID}
	f.applied[flt.ID] = flt
	return flt
}

// Applied lists the ids currently applied.
func (f *Fake) Applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.applied {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Counts returns the number of Inject and Revert calls.
func (f *Fake) Counts() (injects, reverts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Injects, f.Reverts
}
