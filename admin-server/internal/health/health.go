// Package health aggregates named checks into the UP/DOWN answer of the health endpoints.
// Later issues register dependency checks (socket proxy, toxiproxy) here.
package health

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

const (
	StatusUp   = "UP"
	StatusDown = "DOWN"
)

// CheckFunc returns nil when the checked part works.
type CheckFunc func(ctx context.Context) error

// CheckResult is one check's outcome; Error is set only when it is down.
type CheckResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Report is the aggregate: UP only when every check is UP.
type Report struct {
	Status string                 `json:"status"`
	Checks map[string]CheckResult `json:"checks"`
}

// Up reports whether every check passed.
func (r Report) Up() bool { return r.Status == StatusUp }

// Checker holds the registered checks. The zero value is ready to use.
type Checker struct {
	mu     sync.RWMutex
	names  []string
	checks map[string]CheckFunc
}

// Add registers a check; a second Add with the same name replaces the first.
func (c *Checker) Add(name string, fn CheckFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks == nil {
		c.checks = map[string]CheckFunc{}
	}
	if _, exists := c.checks[name]; !exists {
		c.names = append(c.names, name)
	}
	c.checks[name] = fn
}

// Run executes every check in registration order. A checker with no checks is DOWN:
// an empty report must never read as healthy.
func (c *Checker) Run(ctx context.Context) Report {
	c.mu.RLock()
	names := append([]string(nil), c.names...)
	checks := make(map[string]CheckFunc, len(c.checks))
	for k, v := range c.checks {
		checks[k] = v
	}
	c.mu.RUnlock()

	rep := Report{Status: StatusUp, Checks: make(map[string]CheckResult, len(names))}
	if len(names) == 0 {
		rep.Status = StatusDown
	}
	for _, name := range names {
		if err := checks[name](ctx); err != nil {
			rep.Status = StatusDown
			rep.Checks[name] = CheckResult{Status: StatusDown, Error: err.Error()}
			continue
		}
		rep.Checks[name] = CheckResult{Status: StatusUp}
	}
	return rep
}

// Flag is a check backed by a boolean that the owner flips, e.g. "the app server is
// accepting connections": set once it listens, cleared when shutdown begins.
type Flag struct {
	on   atomic.Bool
	down error
}

// NewFlag returns a cleared flag whose check fails with downMsg while cleared.
func NewFlag(downMsg string) *Flag { return &Flag{down: errors.New(downMsg)} }

// Set flips the flag.
func (f *Flag) Set(on bool) { f.on.Store(on) }

// Check is a CheckFunc.
func (f *Flag) Check(context.Context) error {
	if f.on.Load() {
		return nil
	}
	return f.down
}
