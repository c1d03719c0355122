package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/health"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/metrics"
	"github.com/infra-lab/admin-server/internal/testlog"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeEndToEnd runs the real wiring on loopback ports and stops it like SIGTERM would.
func TestServeEndToEnd(t *testing.T) {
	const token = "end-to-end-token-0123"
	logs := &testlog.Buffer{}
	cfg := labConfig(t, token, map[string]string{"ADMIN_STATE_DIR": t.TempDir(), "APP_VERSION": "test"})
	app, ops, stop := startServer(t, cfg, logs)

	tests := []struct {
		url, token string
		wantStatus int
		wantIn     string
	}{
		{app + "/admin/health", "", 200, `{"status":"UP","service":"admin-server","version":"test","commit":"unknown"}`},
		{app + "/admin/api/status", "", 401, `"error":"unauthorized"`},
		{app + "/admin/api/status", token, 200, `"version":"test"`},
		{ops + "/health", "", 200, `"app_listener":{"status":"UP"}`},
		{ops + "/metrics", "", 200, `http_requests_total{code="401",method="get",route="/admin/api/status"} 1`},
		{app + "/admin/api/fault-types", token, 200, `"name":"network.reset_peer"`},
		{ops + "/metrics", "", 200, `infralab_fault_injections_total{result="ok",type="container.kill"} 0`},
		{ops + "/metrics", "", 200, `infralab_traffic_rate_per_second 0`},
		{ops + "/metrics", "", 200, `infralab_traffic_request_duration_seconds_count{kind="job"} 0`},
		{app + "/admin/api/traffic", token, 200, `"job_share":20`},
	}
	for _, tt := range tests {
		code, body := get(t, tt.url, tt.token)
		if code != tt.wantStatus || !strings.Contains(body, tt.wantIn) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.url, code, body, tt.wantStatus, tt.wantIn)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve() = %v, want nil after a clean shutdown", err)
	}
	if _, err := http.Get(app + "/admin/health"); err == nil {
		t.Error("app port still accepts connections after shutdown")
	}
	if out := logs.String(); !strings.Contains(out, `"msg":"shutdown started"`) || strings.Contains(out, token) {
		t.Errorf("logs: want a shutdown line and no token:\n%s", out)
	}
}

// TestServeAllDrain checks that an in-flight request finishes inside the budget and
// that one outliving the budget makes serveAll report it.
func TestServeAllDrain(t *testing.T) {
	tests := []struct {
		name    string
		work    time.Duration // how long the in-flight request takes
		budget  time.Duration
		wantErr bool
	}{
		{name: "in-flight request completes", work: 300 * time.Millisecond, budget: 5 * time.Second},
		{name: "budget exceeded", work: 3 * time.Second, budget: 200 * time.Millisecond, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				select {
				case <-time.After(tt.work):
					_, _ = io.WriteString(w, "done")
				case <-r.Context().Done(): // connection cut by Close after the budget
				}
			})
			ln := listen(t)
			serving := health.NewFlag("down")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- serveAll(ctx, slog.New(slog.DiscardHandler), tt.budget, serving,
					[]namedServer{{name: "app", srv: &http.Server{Handler: h}, ln: ln}})
			}()

			type result struct {
				body string
				err  error
			}
			resp := make(chan result, 1)
			go func() {
				r, err := http.Get("http://" + ln.Addr().String() + "/")
				if err != nil {
					resp <- result{err: err}
					return
				}
				defer r.Body.Close()
				b, err := io.ReadAll(r.Body)
				resp <- result{string(b), err}
			}()
			<-started
			if serving.Check(context.Background()) != nil {
				t.Error("serving flag not set while serving")
			}
			cancel()

			err := <-done
			if serving.Check(context.Background()) == nil {
				t.Error("serving flag still set after shutdown")
			}
			if tt.wantErr {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("serveAll() = %v, want a deadline error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("serveAll() = %v, want nil", err)
			}
			if r := <-resp; r.err != nil || r.body != "done" {
				t.Fatalf("in-flight request = %q, %v; want it completed", r.body, r.err)
			}
		})
	}
}

func TestServeAllStopsWhenAServerFails(t *testing.T) {
	ln := listen(t)
	_ = ln.Close() // Serve on a closed listener fails at once
	err := serveAll(context.Background(), slog.New(slog.DiscardHandler), time.Second, health.NewFlag("down"),
		[]namedServer{{name: "ops", srv: &http.Server{}, ln: ln}})
	if err == nil || !strings.Contains(err.Error(), "ops server") {
		t.Fatalf("serveAll() = %v, want the ops server's error", err)
	}
}

// startServer runs the real wiring on loopback ports with a contract logger built
// the way main builds it (naming cfg's build). stop cancels it like SIGTERM would and
// returns what Serve returned; it also runs when the test ends.
func startServer(t *testing.T, cfg config.Config, logs io.Writer) (app, ops string, stop func() error) {
	t.Helper()
	s := New(Options{
		Config: cfg,
		Logger: slog.New(logging.NewHandler(logs, slog.LevelInfo, config.ServiceName, cfg.Build.Version)),
	})
	appLn, opsLn := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, appLn, opsLn) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				err = errors.New("Serve() did not return within 5 s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + appLn.Addr().String(), "http://" + opsLn.Addr().String(), stop
}

// labConfig loads a config the way main does; the drivers point at closed loopback
// ports so nothing leaves the machine.
func labConfig(t *testing.T, token string, extra map[string]string) config.Config {
	t.Helper()
	vars := map[string]string{
		"ADMIN_TOKEN":   token,
		"CHAOS_TARGETS": "core-server=http://127.0.0.1:9",
		"DOCKER_HOST":   "tcp://127.0.0.1:9",
		"TOXIPROXY_URL": "http://127.0.0.1:9",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStartsWithoutWritableStateDir is the current lab: no volume, a non-root user.
// The server must start, stay healthy and say clearly that state is in memory.
func TestStartsWithoutWritableStateDir(t *testing.T) {
	const token = "no-volume-token-0123"
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	app, _, stop := startServer(t, labConfig(t, token, map[string]string{"ADMIN_STATE_DIR": filepath.Join(file, "state")}), logs)
	if code, body := get(t, app+"/admin/health", ""); code != 200 {
		t.Fatalf("health = %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve() = %v", err)
	}
	if out := logs.String(); !strings.Contains(out, `"level":"error","msg":"state directory unusable: fault state is kept in memory only`) {
		t.Errorf("no clear error about the state directory:\n%s", out)
	}
}

// TestOpenAPIListsEveryFaultType keeps the documented type enum in step with the drivers.
func TestOpenAPIListsEveryFaultType(t *testing.T) {
	cfg := labConfig(t, "openapi-token-0123456", map[string]string{"ADMIN_STATE_DIR": t.TempDir()})
	m := newFaultManager(slog.New(slog.DiscardHandler), metrics.New(config.ServiceName, cfg.Build), cfg.Lab)
	types := m.Types()
	if len(types) != 15 {
		t.Fatalf("got %d fault types, want 15 (5 chaos, 4 container, 6 network)", len(types))
	}
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, ty := range types {
		if !strings.Contains(doc, ty.Name+",") && !strings.Contains(doc, ty.Name+"]") {
			t.Errorf("openapi.yaml does not list fault type %s", ty.Name)
		}
	}
}
