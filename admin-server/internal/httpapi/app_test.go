package httpapi

import (
	"net/http"
	"regexp"
	"testing"
)

func TestAppRoutes(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		token      string
		wantStatus int
		wantBody   map[string]any // fields that must match exactly
		wantAllow  string
		wantAuth   bool // expect the WWW-Authenticate challenge
	}{
		{name: "health without token", method: "GET", target: "/admin/health", wantStatus: 200,
			wantBody: map[string]any{"status": "UP", "service": "admin-server", "version": testVersion, "commit": testCommit}},
		{name: "status without token", method: "GET", target: "/admin/api/status", wantStatus: 401,
			wantBody: map[string]any{"error": "unauthorized", "message": "missing bearer token"}, wantAuth: true},
		{name: "status with wrong token", method: "GET", target: "/admin/api/status", token: "not-the-token-at-all", wantStatus: 401,
			wantBody: map[string]any{"error": "unauthorized", "message": "invalid bearer token"}, wantAuth: true},
		{name: "status with token", method: "GET", target: "/admin/api/status", token: testToken, wantStatus: 200,
			wantBody: map[string]any{"service": "admin-server", "version": testVersion, "commit": testCommit,
				"started_at": "2026-11-26T05:40:01.123Z", "uptime_seconds": 90.5}},
		{name: "unknown api path without token is 401 first", method: "GET", target: "/admin/api/nope", wantStatus: 401,
			wantBody: map[string]any{"error": "unauthorized"}, wantAuth: true},
		{name: "api root without token", method: "GET", target: "/admin/api", wantStatus: 401,
			wantBody: map[string]any{"error": "unauthorized"}, wantAuth: true},
		{name: "unknown api path with token", method: "GET", target: "/admin/api/nope", token: testToken, wantStatus: 404,
			wantBody: map[string]any{"error": "not_found", "message": "no route for /admin/api/nope"}},
		{name: "wrong method with token", method: "DELETE", target: "/admin/api/status", token: testToken, wantStatus: 405,
			wantBody: map[string]any{"error": "method_not_allowed"}, wantAllow: "GET, HEAD"},
		{name: "wrong method on health", method: "POST", target: "/admin/health", wantStatus: 405,
			wantBody: map[string]any{"error": "method_not_allowed", "message": "method POST is not allowed on /admin/health"}, wantAllow: "GET, HEAD"},
		{name: "unknown path", method: "GET", target: "/admin/nope", wantStatus: 404,
			wantBody: map[string]any{"error": "not_found"}},
		{name: "root", method: "GET", target: "/", wantStatus: 404,
			wantBody: map[string]any{"error": "not_found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := do(f.app, tt.method, tt.target, tt.token, nil)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
			}
			body := decodeJSON(t, w)
			for k, v := range tt.wantBody {
				if body[k] != v {
					t.Errorf("body[%q] = %#v, want %#v (body %v)", k, body[k], v, body)
				}
			}
			if got := w.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if got := w.Header().Get("WWW-Authenticate"); (got == `Bearer realm="infra-lab"`) != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want challenge: %v", got, tt.wantAuth)
			}
			if w.Header().Get("X-Request-ID") == "" {
				t.Error("response lacks X-Request-ID")
			}
		})
	}
}

func TestStatusBodyHasExactlyTheContractFields(t *testing.T) {
	f := newFixture(t)
	body := decodeJSON(t, do(f.app, "GET", "/admin/api/status", testToken, nil))
	if len(body) != 5 {
		t.Fatalf("status body = %v, want exactly service, version, commit, started_at, uptime_seconds", body)
	}
}

// TestHealthNamesTheBuild: both health answers (nginx's /admin/health, compose's ops
// /health) carry the running version and commit, up or down, and nothing else new.
func TestHealthNamesTheBuild(t *testing.T) {
	tests := []struct {
		name       string
		ops        bool
		serving    bool
		wantStatus int
		wantKeys   []string
	}{
		{"app up", false, true, http.StatusOK, []string{"status", "service", "version", "commit"}},
		{"app down", false, false, http.StatusServiceUnavailable, []string{"status", "service", "version", "commit"}},
		{"ops up", true, true, http.StatusOK, []string{"status", "service", "version", "commit", "checks"}},
		{"ops down", true, false, http.StatusServiceUnavailable, []string{"status", "service", "version", "commit", "checks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.serving.Set(tt.serving)
			h, path := f.app, "/admin/health"
			if tt.ops {
				h, path = f.ops, "/health"
			}
			w := do(h, "GET", path, "", nil)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			body := decodeJSON(t, w)
			if body["version"] != testVersion || body["commit"] != testCommit {
				t.Errorf("version/commit = %#v/%#v, want %q/%q", body["version"], body["commit"], testVersion, testCommit)
			}
			if len(body) != len(tt.wantKeys) {
				t.Errorf("body = %v, want exactly the keys %v", body, tt.wantKeys)
			}
			for _, k := range tt.wantKeys {
				if _, ok := body[k]; !ok {
					t.Errorf("body lacks %q: %v", k, body)
				}
			}
		})
	}
}

func TestHealthFollowsChecks(t *testing.T) {
	f := newFixture(t)
	f.serving.Set(false)

	w := do(f.app, "GET", "/admin/health", "", nil)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("app health status = %d, want 503", w.Code)
	}
	if body := decodeJSON(t, w); body["status"] != "DOWN" {
		t.Fatalf("app health body = %v", body)
	}

	w = do(f.ops, "GET", "/health", "", nil)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("ops health status = %d, want 503", w.Code)
	}
	checks, _ := decodeJSON(t, w)["checks"].(map[string]any)
	listener, _ := checks["app_listener"].(map[string]any)
	if listener["status"] != "DOWN" || listener["error"] != "app server is not serving" {
		t.Fatalf("ops health checks = %v", checks)
	}
}

func TestRequestID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming string
		wantEcho bool // the incoming id is reused
	}{
		{name: "echoes nginx id", incoming: "5f0c3e9a1b2d4c6e8f0a1b2c3d4e5f60", wantEcho: true},
		{name: "echoes uuid", incoming: "123e4567-e89b-12d3-a456-426614174000", wantEcho: true},
		{name: "generates when absent", incoming: ""},
		{name: "replaces unsafe id", incoming: "bad id with spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			header := http.Header{}
			if tt.incoming != "" {
				header.Set("X-Request-ID", tt.incoming)
			}
			// The 401 path logs a warn line too: both lines must carry the id.
			w := do(f.app, "GET", "/admin/api/status", "", header)
			got := w.Header().Get("X-Request-ID")
			if tt.wantEcho && got != tt.incoming {
				t.Fatalf("X-Request-ID = %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.wantEcho && !hex32.MatchString(got) {
				t.Fatalf("X-Request-ID = %q, want a generated 32-hex id", got)
			}
			lines := f.logLines(t)
			if len(lines) != 2 {
				t.Fatalf("got %d log lines, want warn + access: %v", len(lines), lines)
			}
			for _, l := range lines {
				if l["request_id"] != got {
					t.Errorf("log line request_id = %v, want %q: %v", l["request_id"], got, l)
				}
			}
		})
	}
}

func TestAccessLogLine(t *testing.T) {
	f := newFixture(t)
	do(f.app, "GET", "/admin/health?token=secret", "", http.Header{"X-Request-Id": {"rid-42"}})
	lines := f.logLines(t)
	if len(lines) != 1 {
		t.Fatalf("want one access line, got %v", lines)
	}
	l := lines[0]
	want := map[string]any{"level": "info", "msg": "request completed", "service": "admin-server", "version": testVersion,
		"method": "GET", "path": "/admin/health", "status": float64(200), "request_id": "rid-42"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %#v, want %#v", k, l[k], v)
		}
	}
	if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %#v, want a non-negative number", l["duration_ms"])
	}
	if _, ok := l["ts"].(string); !ok {
		t.Errorf("ts missing: %v", l)
	}
	if len(l) != len(want)+2 {
		t.Errorf("unexpected fields in access line: %v", l)
	}
}
