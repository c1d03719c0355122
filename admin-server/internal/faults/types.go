// Package faults is the fault-control core: the catalogue of fault types and their
// parameters, request validation, and the Manager that injects, expires, reverts,
// persists and audits faults through pluggable drivers.
package faults

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Param kinds.
const (
	KindInteger = "integer"
	KindEnum    = "enum"
)

// ParamSpec describes one parameter of a fault type: its range or allowed values and
// the default filled in when it is absent.
type ParamSpec struct {
	Name        string   `json:"name"`
	Kind        string   `json:"type"`
	Description string   `json:"description"`
	Min         int64    `json:"minimum,omitempty"`
	Max         int64    `json:"maximum,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Default     any      `json:"default"`
}

// Type is one injectable fault type, e.g. "chaos.cpu" or "network.latency".
type Type struct {
	Name        string      `json:"name"`
	Driver      string      `json:"driver"`
	Description string      `json:"description"`
	Params      []ParamSpec `json:"params"`
	// MaxTTL caps the TTL below the global maximum when the backend has its own cap
	// (the chaos contract accepts at most 600 s). 0 means no extra cap.
	MaxTTL time.Duration `json:"-"`
}

// Fault states.
const (
	StateActive       = "active"
	StateReverted     = "reverted"
	StateExpired      = "expired"
	StateRevertFailed = "revert_failed"
	StateFailed       = "inject_failed"
)

// Fault is one injection, active or past. DriverData is private to the driver (a
// container id, a toxic name) and survives restarts through the state file.
type Fault struct {
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	Target         string            `json:"target"`
	Params         map[string]any    `json:"params"`
	TTLSeconds     int64             `json:"ttl_seconds"`
	State          string            `json:"state"`
	Actor          string            `json:"actor"`
	InjectedAt     time.Time         `json:"injected_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	EndedAt        *time.Time        `json:"ended_at,omitempty"`
	EndReason      string            `json:"end_reason,omitempty"`
	Error          string            `json:"error,omitempty"`
	RevertAttempts int               `json:"revert_attempts,omitempty"`
	DriverData     map[string]string `json:"driver_data,omitempty"`
}

// Int returns an integer parameter whatever JSON turned it into.
func (f *Fault) Int(name string) int64 {
	switch v := f.Params[name].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// String returns a string parameter.
func (f *Fault) String(name string) string {
	s, _ := f.Params[name].(string)
	return s
}

// Driver performs faults of its types against one kind of backend.
type Driver interface {
	// Name is the driver label: "chaos", "container", "network".
	Name() string
	// Types lists the fault types the driver implements.
	Types() []Type
	// Targets lists what can be targeted now (may ask the backend).
	Targets(ctx context.Context) ([]string, error)
	// Resolve checks the target (returning an error wrapping ErrUnknownTarget when it
	// is not a chaos target) and may record what it needs in f.DriverData.
	Resolve(ctx context.Context, f *Fault) error
	// Inject applies f. Revert undoes it and must succeed when it is already gone.
	Inject(ctx context.Context, f *Fault) error
	Revert(ctx context.Context, f *Fault) error
	// ConflictKey names what f occupies: two active faults with one key conflict.
	ConflictKey(f *Fault) string
}

// Errors the API maps to status codes.
var (
	ErrUnknownTarget = errors.New("unknown target")
	ErrNotFound      = errors.New("fault not found")
	ErrConflict      = errors.New("conflicting fault is active")
)

// ValidationError is a 400: the message names the field and the reason.
type ValidationError struct {
	Field, Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// BackendError wraps a driver failure (a 502: the request was fine, the backend was not).
type BackendError struct {
	Op  string
	Err error
}

func (e *BackendError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

// normalizeParams checks raw against the specs: unknown names, wrong types and
// out-of-range values are errors; absent ones get their default.
func normalizeParams(t Type, raw map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(t.Params))
	known := make(map[string]bool, len(t.Params))
	for _, p := range t.Params {
		known[p.Name] = true
	}
	for name := range raw {
		if !known[name] {
			return nil, invalid("params."+name, "unknown parameter for %s (accepted: %s)", t.Name, paramNames(t))
		}
	}
	for _, p := range t.Params {
		v, ok := raw[p.Name]
		if !ok || v == nil {
			out[p.Name] = p.Default
			continue
		}
		field := "params." + p.Name
		switch p.Kind {
		case KindInteger:
			n, err := toInt(v)
			if err != nil {
				return nil, invalid(field, "must be an integer")
			}
			if n < p.Min || n > p.Max {
				return nil, invalid(field, "must be between %d and %d, got %d", p.Min, p.Max, n)
			}
			out[p.Name] = n
		case KindEnum:
			s, ok := v.(string)
			if !ok {
				return nil, invalid(field, "must be a string")
			}
			found := false
			for _, e := range p.Enum {
				found = found || e == s
			}
			if !found {
				return nil, invalid(field, "must be one of %v, got %q", p.Enum, s)
			}
			out[p.Name] = s
		}
	}
	return out, nil
}

func paramNames(t Type) string {
	if len(t.Params) == 0 {
		return "none"
	}
	s := ""
	for i, p := range t.Params {
		if i > 0 {
			s += ", "
		}
		s += p.Name
	}
	return s
}

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || n > 1<<53 || n < -(1<<53) {
			return 0, errors.New("not an integer")
		}
		return int64(n), nil
	case interface{ Int64() (int64, error) }: // json.Number
		return n.Int64()
	}
	return 0, errors.New("not a number")
}
