package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/infra-lab/admin-server/internal/auth"
)

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
	m := New()
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
	m := New()
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
