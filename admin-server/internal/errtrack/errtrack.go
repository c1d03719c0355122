// Package errtrack reports errors to Sentry with the official SDK (sentry-go and its
// sentryhttp middleware): handler panics, 5xx answers, and faults that could not be
// reverted. With no DSN the SDK is never initialised: every call here is a no-op and
// nothing touches the network.
package errtrack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
	sentryhttp "github.com/getsentry/sentry-go/http"

	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/requestid"
	"github.com/infra-lab/admin-server/internal/statuswriter"
)

// DefaultEnvironment is used when SENTRY_ENVIRONMENT is empty.
const DefaultEnvironment = "lab"

// FlushTimeout bounds the flush at shutdown (shared contract: at most 2 s).
const FlushTimeout = 2 * time.Second

// Options configures Init.
type Options struct {
	DSN         string // empty: reporting off
	Environment string // empty: DefaultEnvironment
	Release     string // empty: none
	Service     string // the `service` tag on every event
	// Transport replaces the SDK's HTTP transport (tests); nil keeps the default.
	Transport sentry.Transport
}

// OptionsFrom is what the process reports with: SENTRY_DSN, SENTRY_ENVIRONMENT and
// the release <service>@<APP_VERSION>, the build being its only source. A developer
// build is admin-server@dev: still a release, and one set apart from the images.
func OptionsFrom(cfg config.Config) Options {
	return Options{
		DSN:         cfg.SentryDSN,
		Environment: cfg.SentryEnvironment,
		Release:     config.ServiceName + "@" + cfg.Build.Version,
		Service:     config.ServiceName,
	}
}

// Init sets up the global Sentry client. It returns false (and no error) when the DSN
// is empty, and false with an error for a DSN the SDK rejects: the caller logs it and
// runs on without reporting rather than refusing to start.
func Init(o Options) (bool, error) {
	if o.DSN == "" {
		return false, nil
	}
	env := o.Environment
	if env == "" {
		env = DefaultEnvironment
	}
	err := sentry.Init(sentry.ClientOptions{
		Dsn:              o.DSN,
		Environment:      env,
		Release:          o.Release,
		Tags:             map[string]string{"service": o.Service},
		AttachStacktrace: true,
		SendDefaultPII:   false, // no client IPs; Authorization and session cookies are scrubbed
		EnableTracing:    false, // errors only; sentryhttp's transactions are never sent
		Transport:        o.Transport,
		BeforeSend:       beforeSend,
	})
	if err != nil {
		return false, fmt.Errorf("SENTRY_DSN: %w", err)
	}
	return true, nil
}

// Close flushes what is queued (bounded by timeout) and unbinds the client.
func Close(timeout time.Duration) bool {
	hub := sentry.CurrentHub()
	if !hub.Client().IsEnabled() {
		return true
	}
	ok := hub.Flush(timeout)
	hub.BindClient(nil)
	return ok
}

// Enabled reports whether a client is bound (a DSN was given).
func Enabled() bool { return sentry.CurrentHub().Client().IsEnabled() }

// beforeSend drops http.ErrAbortHandler: it is net/http's deliberate "cut this
// connection" signal (withRecover uses it after reporting the real panic), not a bug.
func beforeSend(event *sentry.Event, hint *sentry.EventHint) *sentry.Event {
	if hint != nil {
		if err, ok := hint.RecoveredException.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			return nil
		}
	}
	return event
}

// PanicError is a recovered panic whose value was not an error.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// HTTPError stands for a 5xx answer whose handler named no error.
type HTTPError struct {
	Status int
	Method string
	Path   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s answered %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
}

// requestState is what the handlers below the middleware leave for it: the error
// behind a 5xx, and whether an event for this request went out already.
type requestState struct {
	mu       sync.Mutex
	err      error
	reported bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// ReportError names the error behind the 5xx the handler is about to write, so the
// event carries its type and message instead of a bare status. 4xx errors must not
// be passed here.
func ReportError(ctx context.Context, err error) {
	if st := stateFrom(ctx); st != nil && err != nil {
		st.mu.Lock()
		st.err = err
		st.mu.Unlock()
	}
}

func markReported(ctx context.Context) {
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		st.reported = true
		st.mu.Unlock()
	}
}

func hubFrom(ctx context.Context) *sentry.Hub {
	if hub := sentry.GetHubFromContext(ctx); hub != nil {
		return hub
	}
	return sentry.CurrentHub().Clone()
}

// Middleware is sentryhttp (a hub per request, request data, panics that escape
// everything below are reported and re-raised) plus the admin-server's rules: tag
// request_id, report any 5xx the handler wrote, never a 4xx. Put it outside the panic
// recovery, which reports panics through CapturePanic.
func Middleware(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub := sentry.GetHubFromContext(r.Context())
		if hub == nil || !hub.Client().IsEnabled() {
			next.ServeHTTP(w, r)
			return
		}
		if id := requestid.FromContext(r.Context()); id != "" {
			hub.Scope().SetTag("request_id", id)
		}
		st := &requestState{}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		sw := statuswriter.New(w)
		next.ServeHTTP(sw, r)
		status := sw.Status()
		if status < 500 {
			return
		}
		st.mu.Lock()
		err, reported := st.err, st.reported
		st.mu.Unlock()
		if reported {
			return
		}
		if err == nil {
			err = &HTTPError{Status: status, Method: r.Method, Path: r.URL.Path}
		}
		hub.WithScope(func(scope *sentry.Scope) {
			scope.SetTag("http.status_code", strconv.Itoa(status))
			scope.SetLevel(sentry.LevelError)
			hub.CaptureException(err)
		})
	})
	return sentryhttp.New(sentryhttp.Options{Repanic: true}).Handle(inner)
}

// CapturePanic reports a recovered handler panic (called by the recovery middleware,
// which then answers 500) and marks the request as reported.
func CapturePanic(ctx context.Context, v any) {
	hub := sentry.GetHubFromContext(ctx)
	if hub == nil || !hub.Client().IsEnabled() {
		return
	}
	err, ok := v.(error)
	if !ok {
		err = &PanicError{Value: v}
	}
	event := hub.Client().EventFromException(err, sentry.LevelFatal)
	if n := len(event.Exception); n > 0 {
		event.Exception[n-1].Mechanism = &sentry.Mechanism{Type: "go.panic", Handled: sentry.Pointer(false)}
	}
	hub.WithScope(func(scope *sentry.Scope) {
		scope.SetTag("http.status_code", "500")
		hub.CaptureEvent(event)
	})
	markReported(ctx)
}

// FaultFailure is a fault that could not be reverted.
type FaultFailure struct {
	ID, Type, Target string
	Reason           string // what the revert was for: api, expired, retry, reconciled, shutdown, inject_cleanup
	Attempts         int
	GaveUp           bool // no more retries: the fault may stay in effect until reverted by hand
	Err              error
	// ReplacesRequestEvent: when ctx is a request's, this event stands for the
	// request's 5xx too (the middleware then sends no second one).
	ReplacesRequestEvent bool
}

// CaptureFaultFailure reports a failed revert with the fault's id, type and target as
// tags and one Sentry issue per fault (the fingerprint is the fault id).
func CaptureFaultFailure(ctx context.Context, f FaultFailure) {
	hub := hubFrom(ctx)
	if !hub.Client().IsEnabled() || f.Err == nil {
		return
	}
	msg := "could not revert fault " + f.ID + " (" + f.Type + " on " + f.Target + ")"
	switch {
	case f.Reason == "inject_cleanup":
		msg = "could not clean up after the failed injection of fault " + f.ID + " (" + f.Type + " on " + f.Target +
			"): if the injection reached the backend it is in effect, check and revert it by hand"
	case f.GaveUp:
		msg = "gave up reverting fault " + f.ID + " (" + f.Type + " on " + f.Target + "): it may still be in effect, revert it by hand"
	}
	hub.WithScope(func(scope *sentry.Scope) {
		scope.SetLevel(sentry.LevelError)
		scope.SetTags(map[string]string{
			"fault_id":        f.ID,
			"fault_type":      f.Type,
			"fault_target":    f.Target,
			"revert_reason":   f.Reason,
			"revert_attempts": strconv.Itoa(f.Attempts),
			"revert_gave_up":  strconv.FormatBool(f.GaveUp),
		})
		scope.SetFingerprint([]string{"fault-revert-failed", f.ID})
		scope.SetContext("fault", sentry.Context{
			"id": f.ID, "type": f.Type, "target": f.Target, "reason": f.Reason,
			"attempts": f.Attempts, "gave_up": f.GaveUp, "summary": msg,
		})
		hub.CaptureException(&RevertError{Summary: msg, Err: f.Err})
	})
	if f.ReplacesRequestEvent {
		markReported(ctx)
	}
}

// RevertError is the exception of a failed-revert event: the summary names the fault,
// the wrapped error says why the backend call failed.
type RevertError struct {
	Summary string
	Err     error
}

func (e *RevertError) Error() string { return e.Summary + ": " + e.Err.Error() }
func (e *RevertError) Unwrap() error { return e.Err }
