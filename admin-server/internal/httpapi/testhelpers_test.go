package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/faults/faultstest"
	"github.com/infra-lab/admin-server/internal/health"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/metrics"
	"github.com/infra-lab/admin-server/internal/ratelimit"
	"github.com/infra-lab/admin-server/internal/testlog"
	"github.com/infra-lab/admin-server/internal/traffic"
)

const testToken = "test-token-0123456789"

// The build the fixture runs as (config.Build in production).
const (
	testVersion = "6492e4b1c0de-dirty"
	testCommit  = "6492e4b1c0de0123456789abcdef0123456789ab"
)

var testStart = time.Date(2026, 11, 26, 5, 40, 1, 123_000_000, time.UTC)

// fixture wires the app and ops handlers the way the server does, with logs captured.
type fixture struct {
	app, ops http.Handler
	logs     *bytes.Buffer
	serving  *health.Flag
	fake     *faultstest.Fake
	faults   *faults.Manager
	traffic  *traffic.Generator
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, fixtureOptions{}) }

// fixtureOptions vary the fixture: a rate limiter, and drivers beside the fake one.
type fixtureOptions struct {
	limiter *ratelimit.Limiter
	drivers []faults.Driver
}

func newFixtureWith(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	logger, logs := captureLogs(slog.LevelDebug)
	m := metrics.New("admin-server", config.Build{Version: testVersion, Commit: testCommit})
	serving := health.NewFlag("app server is not serving")
	serving.Set(true)
	checker := &health.Checker{}
	checker.Add("app_listener", serving.Check)
	fake := faultstest.New("alpha", "beta")
	now := func() time.Time { return testStart.Add(90500 * time.Millisecond) }
	mgr := faults.NewManager(faults.Options{Drivers: append([]faults.Driver{fake}, o.drivers...), Logger: logger, Now: now,
		Metrics: faults.NewMetrics(m.Registry()), DefaultTTL: 30 * time.Second, MaxTTL: 300 * time.Second})
	if err := mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	gen, err := traffic.New(logger, m.Registry(), "http://127.0.0.1:9", false, traffic.Mix{Rate: 2, Paths: []string{"/api/health"}, JobShare: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gen.Close(); mgr.Close(context.Background()) })
	app := &App{
		Service: "admin-server", Version: testVersion, Commit: testCommit, StartedAt: testStart,
		Logger: logger, Metrics: m, Auth: auth.NewBearer(testToken, m), Health: checker,
		Now:    now,
		Faults: mgr, Traffic: gen, Grafana: "/grafana",
	}
	if o.limiter != nil {
		app.Limiter = o.limiter
	}
	ops := &Ops{Service: "admin-server", Version: testVersion, Commit: testCommit, Metrics: m, Health: checker}
	return &fixture{app: app.Handler(), ops: ops.Handler(), logs: logs, serving: serving, fake: fake, faults: mgr, traffic: gen}
}

// captureLogs returns a contract JSON logger at level and the buffer it writes to.
func captureLogs(level slog.Level) (*slog.Logger, *bytes.Buffer) {
	logs := &bytes.Buffer{}
	return slog.New(logging.NewHandler(logs, level, "admin-server", testVersion)), logs
}

// do sends one request; token "" means no Authorization header.
func do(h http.Handler, method, target, token string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// logLines parses every captured log line as JSON.
func (f *fixture) logLines(t *testing.T) []map[string]any {
	t.Helper()
	return testlog.Lines(t, f.logs.String())
}

func decodeJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %q)", ct, w.Body.String())
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not JSON: %q", w.Body.String())
	}
	return m
}

// signIn posts the token to the login form and returns the session cookie.
func signIn(t *testing.T, h http.Handler) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest("POST", "/admin/login", strings.NewReader("token="+testToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if cookies := w.Result().Cookies(); w.Code == http.StatusSeeOther && len(cookies) == 1 {
		return cookies[0]
	}
	t.Fatalf("login = %d %v", w.Code, w.Result().Cookies())
	return nil
}

// controlPage renders /admin/ for a session.
func controlPage(t *testing.T, h http.Handler, session *http.Cookie) string {
	t.Helper()
	req := httptest.NewRequest("GET", "/admin/", nil)
	req.AddCookie(session)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /admin/ = %d", w.Code)
	}
	return w.Body.String()
}
