package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/config"
)

var testBuild = config.Build{Version: "test", Commit: "unknown"}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("scrape status %d", w.Code)
	}
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

func TestInstrumentHTTP(t *testing.T) {
	m := New("admin-server", testBuild)
	h := m.InstrumentHTTP(func(*http.Request) string { return "/things/{id}" },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusTeapot)
			}
		}))
	for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/things/1", nil))
	}

	tests := []struct {
		code, method string
		want         float64
	}{
		{"200", "get", 2},
		{"418", "post", 1},
	}
	for _, tt := range tests {
		got := testutil.ToFloat64(m.requests.WithLabelValues(tt.code, tt.method, "/things/{id}"))
		if got != tt.want {
			t.Errorf("http_requests_total{code=%s,method=%s} = %v, want %v", tt.code, tt.method, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.duration, "http_request_duration_seconds"); n != 2 {
		t.Errorf("histogram series = %d, want 2", n)
	}

	body := scrape(t, m)
	for _, want := range []string{
		`http_requests_total{code="200",method="get",route="/things/{id}"} 2`,
		`http_request_duration_seconds_bucket{code="418",method="post",route="/things/{id}",le="+Inf"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
		"promhttp_metric_handler_requests_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	m := New("admin-server", testBuild)
	// Pre-created series are exposed at zero before any failure.
	body := scrape(t, m)
	for _, r := range auth.Reasons {
		if want := `admin_auth_failures_total{reason="` + string(r) + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	m.AuthFailed(auth.ReasonInvalidToken)
	m.AuthFailed(auth.ReasonInvalidToken)
	if got := testutil.ToFloat64(m.authFailures.WithLabelValues("invalid_token")); got != 2 {
		t.Fatalf("invalid_token failures = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.authFailures.WithLabelValues("missing")); got != 0 {
		t.Fatalf("missing failures = %v, want 0", got)
	}
}

// TestBuildInfo: build_info is a constant 1 labelled exactly service, version and
// commit, with the values escaped by the client library, never broken by them.
func TestBuildInfo(t *testing.T) {
	tests := []struct {
		name     string
		build    config.Build
		wantLine string // as it appears on the endpoint
	}{
		{"image", config.Build{Version: "6492e4b1c0de", Commit: "6492e4b1c0de0123456789abcdef0123456789ab"},
			`build_info{commit="6492e4b1c0de0123456789abcdef0123456789ab",service="admin-server",version="6492e4b1c0de"} 1`},
		{"dirty image", config.Build{Version: "6492e4b1c0de-dirty", Commit: "6492e4b1c0de0123456789abcdef0123456789ab"},
			`build_info{commit="6492e4b1c0de0123456789abcdef0123456789ab",service="admin-server",version="6492e4b1c0de-dirty"} 1`},
		{"developer build", config.Build{Version: "dev", Commit: "unknown"},
			`build_info{commit="unknown",service="admin-server",version="dev"} 1`},
		{"free text", config.Build{Version: `v"1\2` + "\n} 0", Commit: `a,b="c"`},
			`build_info{commit="a,b=\"c\"",service="admin-server",version="v\"1\\2\n} 0"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New("admin-server", tt.build)
			body := scrape(t, m)
			if !strings.Contains(body, "\n"+tt.wantLine+"\n") {
				t.Errorf("exposition lacks the line %s:\n%s", tt.wantLine, grepLines(body, "build_info"))
			}

			families, err := m.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"service": "admin-server", "version": tt.build.Version, "commit": tt.build.Commit}
			found := false
			for _, mf := range families {
				for _, metric := range mf.GetMetric() {
					labels := map[string]string{}
					for _, lp := range metric.GetLabel() {
						labels[lp.GetName()] = lp.GetValue()
					}
					if mf.GetName() != "build_info" {
						// build_info is the only metric labelled service: Prometheus adds the
						// target's service label to the rest, so there is never a second one.
						if _, ok := labels["service"]; ok {
							t.Errorf("%s carries its own service label: %v", mf.GetName(), labels)
						}
						continue
					}
					if found {
						t.Fatalf("more than one build_info series")
					}
					found = true
					if !reflect.DeepEqual(labels, want) {
						t.Errorf("build_info labels = %v, want exactly %v", labels, want)
					}
					if v := metric.GetGauge().GetValue(); v != 1 {
						t.Errorf("build_info = %v, want 1", v)
					}
				}
			}
			if !found {
				t.Fatal("no build_info series")
			}
		})
	}
}

// grepLines keeps the lines of s that contain sub, for readable failures.
func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
