package toxiproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/drivers/toxiproxy"
	"github.com/infra-lab/admin-server/internal/faults"
)

// A real toxiproxy-server, started once for the package on a free loopback port.
var (
	apiURL    string // http://127.0.0.1:port
	proxyAddr string // where the ext-api proxy listens
)

func TestMain(m *testing.M) {
	stop, err := startToxiproxy()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: cannot start a real toxiproxy for the driver tests: %v\n"+
			"Build it with scripts/build-toxiproxy.sh at the repository root (needs the Go module proxy once) or set TOXIPROXY_SERVER to a toxiproxy-server binary.\n", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startToxiproxy() (func(), error) {
	bin := os.Getenv("TOXIPROXY_SERVER")
	if bin == "" {
		script, _ := filepath.Abs("../../../../scripts/build-toxiproxy.sh")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "bash", script).Output()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", script, err)
		}
		bin = strings.TrimSpace(string(out))
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", port)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	apiURL = "http://127.0.0.1:" + port
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(apiURL + "/version")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s did not answer on %s within 10 s: %v", bin, apiURL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return stop, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

// setupProxy (re)creates the ext-api proxy in front of a fresh upstream.
func setupProxy(t *testing.T) {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 64<<10))
	}))
	t.Cleanup(upstream.Close)
	api(t, http.MethodDelete, "/proxies/ext-api", nil) // leftover from a previous test
	body := fmt.Sprintf(`{"name":"ext-api","listen":"127.0.0.1:0","upstream":%q,"enabled":true}`, upstream.Listener.Addr().String())
	code, out := api(t, http.MethodPost, "/proxies", []byte(body))
	if code != http.StatusCreated {
		t.Fatalf("create proxy: %d %s", code, out)
	}
	var p struct {
		Listen string `json:"listen"`
	}
	_ = json.Unmarshal(out, &p)
	proxyAddr = p.Listen
	t.Cleanup(func() { api(t, http.MethodDelete, "/proxies/ext-api", nil) })
}

func api(t *testing.T, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, apiURL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type toxicView struct {
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     string           `json:"stream"`
	Toxicity   float64          `json:"toxicity"`
	Attributes map[string]int64 `json:"attributes"`
}

func toxics(t *testing.T) []toxicView {
	t.Helper()
	code, b := api(t, http.MethodGet, "/proxies/ext-api/toxics", nil)
	if code != http.StatusOK {
		t.Fatalf("list toxics: %d %s", code, b)
	}
	var out []toxicView
	_ = json.Unmarshal(b, &out)
	return out
}

// fetch sends one request through the proxy and returns how long it took.
func fetch(timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + proxyAddr + "/")
	if err != nil {
		return time.Since(start), err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return time.Since(start), err
}

func newManager(t *testing.T) *faults.Manager {
	t.Helper()
	d := toxiproxy.New(apiURL, []string{"ext-api"}, nil)
	m := faults.NewManager(faults.Options{Drivers: []faults.Driver{d}})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func TestToxicsAreCreatedAndRemoved(t *testing.T) {
	tests := []struct {
		typ       string
		params    map[string]any
		wantType  string
		wantAttrs map[string]int64
		wantTox   float64
		wantDir   string
	}{
		{"network.latency", map[string]any{"latency_ms": 250, "jitter_ms": 20}, "latency", map[string]int64{"latency": 250, "jitter": 20}, 1, "downstream"},
		{"network.jitter", map[string]any{"jitter_ms": 300, "stream": "upstream"}, "latency", map[string]int64{"latency": 0, "jitter": 300}, 1, "upstream"},
		{"network.timeout", map[string]any{"timeout_ms": 1500, "toxicity_percent": 50}, "timeout", map[string]int64{"timeout": 1500}, 0.5, "downstream"},
		{"network.reset_peer", map[string]any{"timeout_ms": 10}, "reset_peer", map[string]int64{"timeout": 10}, 1, "downstream"},
		{"network.bandwidth", map[string]any{"rate_kbps": 32}, "bandwidth", map[string]int64{"rate": 32}, 1, "downstream"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			setupProxy(t)
			m := newManager(t)
			f, err := m.Inject(context.Background(), faults.Request{Type: tt.typ, Target: "ext-api", Params: tt.params}, faults.Actor{Name: "test"})
			if err != nil {
				t.Fatalf("Inject() = %v", err)
			}
			got := toxics(t)
			if len(got) != 1 {
				t.Fatalf("toxics = %+v, want one", got)
			}
			x := got[0]
			if x.Name != toxiproxy.ToxicName(&f) || x.Type != tt.wantType || x.Stream != tt.wantDir || x.Toxicity != tt.wantTox {
				t.Errorf("toxic = %+v", x)
			}
			for k, v := range tt.wantAttrs {
				if x.Attributes[k] != v {
					t.Errorf("attribute %s = %d, want %d (%v)", k, x.Attributes[k], v, x.Attributes)
				}
			}
			if _, err := m.Revert(context.Background(), f.ID, faults.Actor{Name: "test"}); err != nil {
				t.Fatalf("Revert() = %v", err)
			}
			if got := toxics(t); len(got) != 0 {
				t.Fatalf("toxics after revert = %+v", got)
			}
		})
	}
}

func TestLatencyIsFeltAndExpires(t *testing.T) {
	setupProxy(t)
	m := newManager(t)
	if d, err := fetch(5 * time.Second); err != nil || d > 250*time.Millisecond {
		t.Fatalf("baseline fetch took %s (%v)", d, err)
	}
	_, err := m.Inject(context.Background(), faults.Request{Type: "network.latency", Target: "ext-api",
		Params: map[string]any{"latency_ms": 400}, TTL: time.Second}, faults.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := fetch(5 * time.Second); err != nil || d < 400*time.Millisecond {
		t.Fatalf("fetch under latency took %s (%v), want >= 400ms", d, err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(m.Active()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("latency fault did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := toxics(t); len(got) != 0 {
		t.Fatalf("toxics after expiry = %+v", got)
	}
	if d, err := fetch(5 * time.Second); err != nil || d > 250*time.Millisecond {
		t.Fatalf("fetch after expiry took %s (%v)", d, err)
	}
}

func TestDownAndResetPeerBreakConnections(t *testing.T) {
	setupProxy(t)
	m := newManager(t)
	ctx := context.Background()
	down, err := m.Inject(ctx, faults.Request{Type: "network.down", Target: "ext-api"}, faults.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(2 * time.Second); err == nil {
		t.Fatal("fetch through a disabled proxy succeeded")
	}
	if _, err := m.Inject(ctx, faults.Request{Type: "network.down", Target: "ext-api"}, faults.Actor{Name: "test"}); err == nil {
		t.Fatal("second down fault on the same proxy was accepted")
	}
	if _, err := m.Revert(ctx, down.ID, faults.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(2 * time.Second); err != nil {
		t.Fatalf("fetch after re-enabling: %v", err)
	}

	if _, err := m.Inject(ctx, faults.Request{Type: "network.reset_peer", Target: "ext-api"}, faults.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(2 * time.Second); err == nil {
		t.Fatal("fetch through reset_peer succeeded")
	}
	if _, err := m.RevertAll(ctx, faults.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(2 * time.Second); err != nil {
		t.Fatalf("fetch after revert: %v", err)
	}
}

func TestUnknownProxyAndUnreachableAPI(t *testing.T) {
	m := newManager(t)
	_, err := m.Inject(context.Background(), faults.Request{Type: "network.latency", Target: "db"}, faults.Actor{Name: "test"})
	if err == nil || !strings.Contains(err.Error(), `unknown target "db"`) {
		t.Fatalf("error = %v", err)
	}

	port, _ := freePort() // nothing listens there
	d := toxiproxy.New("http://127.0.0.1:"+port, []string{"ext-api"}, nil)
	bad := faults.NewManager(faults.Options{Drivers: []faults.Driver{d}})
	_, err = bad.Inject(context.Background(), faults.Request{Type: "network.latency", Target: "ext-api"}, faults.Actor{Name: "test"})
	var be *faults.BackendError
	if !errors.As(err, &be) {
		t.Fatalf("error = %v, want a BackendError", err)
	}
	if d.Ping(context.Background()) == nil {
		t.Fatal("Ping succeeded against a closed port")
	}
}
