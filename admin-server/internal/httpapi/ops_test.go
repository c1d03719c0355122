package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestOpsRoutes(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCT     string // prefix
		wantIn     string
	}{
		{"health", "GET", "/health", 200, "application/json", `"checks":{"app_listener":{"status":"UP"}}`},
		{"metrics", "GET", "/metrics", 200, "text/plain", "go_goroutines"},
		{"unknown", "GET", "/internal/nope", 404, "application/json", `"error":"not_found"`},
		{"wrong method", "POST", "/metrics", 405, "application/json", `"error":"method_not_allowed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := do(f.ops, tt.method, tt.target, "", nil)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			// Prefix only: the exposition's parameters depend on the client library version.
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.wantCT) {
				t.Errorf("Content-Type = %q, want prefix %q", ct, tt.wantCT)
			}
			if !strings.Contains(w.Body.String(), tt.wantIn) {
				t.Errorf("body lacks %q: %s", tt.wantIn, w.Body.String())
			}
		})
	}
}

// TestMetricsExposition drives the app port, then scrapes the ops port.
func TestMetricsExposition(t *testing.T) {
	f := newFixture(t)
	do(f.app, "GET", "/admin/health", "", nil)
	do(f.app, "GET", "/admin/health", "", nil)
	do(f.app, "GET", "/admin/api/status", testToken, nil)
	do(f.app, "GET", "/admin/api/status", "", nil)
	do(f.app, "GET", "/admin/api/status", "wrong-token-wrong-token", nil)
	do(f.app, "GET", "/no/such/path/1", "", nil)
	do(f.app, "GET", "/no/such/path/2", "", nil)

	body := do(f.ops, "GET", "/metrics", "", nil).Body.String()
	for _, want := range []string{
		`http_requests_total{code="200",method="get",route="/admin/health"} 2`,
		`http_requests_total{code="200",method="get",route="/admin/api/status"} 1`,
		`http_requests_total{code="401",method="get",route="/admin/api/status"} 2`,
		`http_requests_total{code="404",method="get",route="unmatched"} 2`,
		`http_request_duration_seconds_count{code="200",method="get",route="/admin/health"} 2`,
		`admin_auth_failures_total{reason="missing"} 1`,
		`admin_auth_failures_total{reason="invalid_token"} 1`,
		`admin_auth_failures_total{reason="wrong_scheme"} 0`,
		`build_info{commit="` + testCommit + `",service="admin-server",version="` + testVersion + `"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("raw request paths leaked into metric labels")
	}
}

func TestRecoverAnswersJSON500(t *testing.T) {
	logger, logs := captureLogs(slog.LevelInfo)
	h := withRequestID(logger, withAccessLog(withRecover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("kaboom")
	}))))
	w := do(h, "GET", "/admin/health", "", nil)

	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", w.Code)
	}
	if got := w.Body.String(); got != `{"error":"internal","message":"internal server error"}`+"\n" {
		t.Fatalf("body = %q", got)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"panic in handler"`) || !strings.Contains(out, `"panic":"kaboom"`) {
		t.Errorf("panic not logged: %s", out)
	}
	if !strings.Contains(out, `"msg":"request completed"`) || !strings.Contains(out, `"status":500`) {
		t.Errorf("access line does not record the 500: %s", out)
	}
}
