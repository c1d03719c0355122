package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/errtrack/sentrytest"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/faults/faultstest"
	"github.com/infra-lab/admin-server/internal/health"
	"github.com/infra-lab/admin-server/internal/metrics"
)

// initSentry points the global Sentry client at a local receiver for one test.
func initSentry(t *testing.T) *sentrytest.Receiver {
	t.Helper()
	rcv := sentrytest.Start(t)
	on, err := errtrack.Init(errtrack.Options{DSN: rcv.DSN(), Service: "admin-server", Release: "admin-server@test"})
	if err != nil || !on {
		t.Fatalf("errtrack.Init = %v, %v", on, err)
	}
	t.Cleanup(func() { errtrack.Close(2 * time.Second) })
	return rcv
}

// send makes one request through a real HTTP server.
func sendReq(t *testing.T, method, url, token, reqID, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Request-ID", reqID)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if got := resp.Header.Get("X-Request-ID"); got != reqID {
		t.Fatalf("X-Request-ID = %q, want %q", got, reqID)
	}
	return resp.StatusCode
}

func byRequestID(id string) func(sentrytest.Event) bool {
	return func(ev sentrytest.Event) bool { return ev.Tags["request_id"] == id }
}

// panickyFake panics on Inject, like a driver bug would.
type panickyFake struct{ *faultstest.Fake }

func (p panickyFake) Inject(context.Context, *faults.Fault) error { panic("driver exploded") }

// TestSentryReportsPanicsAnd5xxOnly drives the app handler through a real HTTP server:
// a handler panic and a backend failure (502) reach the Sentry receiver with the
// exception and the service/request_id tags; 4xx answers (auth failures included) do not.
func TestSentryReportsPanicsAnd5xxOnly(t *testing.T) {
	rcv := initSentry(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.app)
	defer srv.Close()

	// 4xx first: unauthorized, wrong token, unknown route, bad request, conflict-free 404.
	quiet := map[string]int{
		"rid-401-missing": sendReq(t, "GET", srv.URL+"/admin/api/faults", "", "rid-401-missing", ""),
		"rid-401-wrong":   sendReq(t, "GET", srv.URL+"/admin/api/faults", "wrong-token-0123456789", "rid-401-wrong", ""),
		"rid-404":         sendReq(t, "GET", srv.URL+"/admin/nope", "", "rid-404", ""),
		"rid-400":         sendReq(t, "POST", srv.URL+"/admin/api/faults", testToken, "rid-400", `{"type":"nope"}`),
		"rid-404-fault":   sendReq(t, "DELETE", srv.URL+"/admin/api/faults/f-missing", testToken, "rid-404-fault", ""),
	}
	for id, code := range quiet {
		if code < 400 || code >= 500 {
			t.Fatalf("%s: status %d, want a 4xx", id, code)
		}
	}

	// A backend failure: 502 with the driver's error.
	f.fake.InjectErr = errors.New("connection refused by alpha")
	if code := sendReq(t, "POST", srv.URL+"/admin/api/faults", testToken, "rid-502", `{"type":"fake.off","target":"alpha"}`); code != http.StatusBadGateway {
		t.Fatalf("inject with a failing backend: status %d, want 502", code)
	}
	ev := rcv.WaitFor(t, 5*time.Second, "for the 502", byRequestID("rid-502"))
	if m := ev.Main(); m.Type != "*faults.BackendError" || !strings.Contains(m.Value, "connection refused by alpha") {
		t.Errorf("502 exception = %+v, want *faults.BackendError with the driver error", m)
	}
	if ev.Tags["service"] != "admin-server" || ev.Tags["http.status_code"] != "502" {
		t.Errorf("502 tags = %v", ev.Tags)
	}
	if ev.Environment != "lab" || ev.Release != "admin-server@test" {
		t.Errorf("environment/release = %q/%q, want lab/admin-server@test", ev.Environment, ev.Release)
	}
	if h := ev.Request.Headers["Authorization"]; h != "" && h != "[Filtered]" {
		t.Errorf("the bearer token reached Sentry: Authorization = %q", h)
	}
	if strings.Contains(string(ev.Raw), testToken) {
		t.Errorf("the token appears in the event: %s", ev.Raw)
	}

	// A handler panic: 500, reported once as the panic (not again as a bare 500).
	pf := panickyFake{faultstest.New("gamma")}
	logger, _ := captureLogs(slog.LevelError)
	m := metrics.New("admin-server", config.Build{Version: testVersion, Commit: testCommit})
	mgr := faults.NewManager(faults.Options{Drivers: []faults.Driver{pf}, Logger: logger})
	app := &App{Service: "admin-server", Logger: logger, Metrics: m, Auth: auth.NewBearer(testToken, m),
		Health: &health.Checker{}, Faults: mgr, Traffic: f.traffic}
	psrv := httptest.NewServer(app.Handler())
	defer psrv.Close()
	if code := sendReq(t, "POST", psrv.URL+"/admin/api/faults", testToken, "rid-panic", `{"type":"fake.off","target":"gamma"}`); code != http.StatusInternalServerError {
		t.Fatalf("panicking handler: status %d, want 500", code)
	}
	ev = rcv.WaitFor(t, 5*time.Second, "for the panic", byRequestID("rid-panic"))
	if m := ev.Main(); m.Type != "*errtrack.PanicError" || m.Value != "panic: driver exploded" {
		t.Errorf("panic exception = %+v", m)
	}
	if ev.Tags["service"] != "admin-server" || ev.Level != "fatal" {
		t.Errorf("panic event tags/level = %v / %q", ev.Tags, ev.Level)
	}

	// Everything sent so far is delivered; none of it is about a 4xx.
	if !sentry.Flush(2 * time.Second) {
		t.Fatal("flush timed out")
	}
	counts := map[string]int{}
	for _, ev := range rcv.Events() {
		counts[ev.Tags["request_id"]]++
	}
	for id := range quiet {
		if counts[id] != 0 {
			t.Errorf("a 4xx request (%s) was reported to Sentry", id)
		}
	}
	if counts["rid-panic"] != 1 || counts["rid-502"] != 1 {
		t.Errorf("events per request = %v, want exactly one for rid-panic and rid-502", counts)
	}
	if errs := rcv.Errors(); len(errs) > 0 {
		t.Errorf("receiver rejected requests: %v", errs)
	}
}

// TestSentryOffWithoutDSN: no DSN, no client; the app works and reports nothing.
func TestSentryOffWithoutDSN(t *testing.T) {
	rcv := sentrytest.Start(t) // nothing points at it: it must stay untouched
	on, err := errtrack.Init(errtrack.Options{DSN: "", Service: "admin-server"})
	if on || err != nil || errtrack.Enabled() {
		t.Fatalf("errtrack.Init with an empty DSN = %v, %v (enabled %v), want off", on, err, errtrack.Enabled())
	}
	f := newFixture(t)
	srv := httptest.NewServer(f.app)
	defer srv.Close()
	f.fake.InjectErr = errors.New("connection refused")
	if code := sendReq(t, "POST", srv.URL+"/admin/api/faults", testToken, "rid-off-502", `{"type":"fake.off","target":"alpha"}`); code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", code)
	}
	if code := sendReq(t, "GET", srv.URL+"/admin/api/status", testToken, "rid-off-200", ""); code != http.StatusOK {
		t.Fatalf("status %d, want 200", code)
	}
	if !errtrack.Close(time.Second) {
		t.Error("Close without a client should be a no-op that succeeds")
	}
	if n := rcv.Requests(); n != 0 {
		t.Errorf("receiver got %d requests with Sentry off", n)
	}
}
