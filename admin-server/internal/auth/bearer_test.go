package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/infra-lab/admin-server/internal/logging"
)

const token = "correct-horse-battery-staple"

type countingRecorder map[Reason]int

func (c countingRecorder) AuthFailed(r Reason) { c[r]++ }

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name       string
		header     []string // Authorization values; nil means none
		wantStatus int
		wantReason Reason
		wantMsg    string
	}{
		{name: "missing header", header: nil, wantStatus: 401, wantReason: ReasonMissing, wantMsg: "missing bearer token"},
		{name: "bearer without token", header: []string{"Bearer "}, wantStatus: 401, wantReason: ReasonMissing, wantMsg: "missing bearer token"},
		{name: "bare scheme", header: []string{"Bearer"}, wantStatus: 401, wantReason: ReasonMissing, wantMsg: "missing bearer token"},
		{name: "basic scheme", header: []string{"Basic YWRtaW46" + token}, wantStatus: 401, wantReason: ReasonWrongScheme, wantMsg: "authorization scheme must be Bearer"},
		{name: "token without scheme", header: []string{token}, wantStatus: 401, wantReason: ReasonWrongScheme, wantMsg: "authorization scheme must be Bearer"},
		{name: "wrong token", header: []string{"Bearer wrong-token-of-some-length"}, wantStatus: 401, wantReason: ReasonInvalidToken, wantMsg: "invalid bearer token"},
		{name: "token prefix", header: []string{"Bearer " + token[:len(token)-1]}, wantStatus: 401, wantReason: ReasonInvalidToken, wantMsg: "invalid bearer token"},
		{name: "token with suffix", header: []string{"Bearer " + token + "x"}, wantStatus: 401, wantReason: ReasonInvalidToken, wantMsg: "invalid bearer token"},
		{name: "right token", header: []string{"Bearer " + token}, wantStatus: 200},
		{name: "lowercase scheme", header: []string{"bearer " + token}, wantStatus: 200},
		{name: "extra spaces", header: []string{"Bearer   " + token + " "}, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := countingRecorder{}
			var logs bytes.Buffer
			logger := slog.New(logging.NewHandler(&logs, slog.LevelInfo, "admin-server", "test"))
			called := false
			h := NewBearer(token, rec).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				w.WriteHeader(http.StatusOK)
			}))

			req := httptest.NewRequest(http.MethodGet, "/admin/api/status", nil)
			req = req.WithContext(logging.WithLogger(context.Background(), logger.With("request_id", "rid-1")))
			for _, v := range tt.header {
				req.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)

			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusOK {
				if !called || len(rec) != 0 || logs.Len() != 0 {
					t.Fatalf("authorised request: called=%v failures=%v logs=%q", called, rec, logs.String())
				}
				return
			}

			if called {
				t.Fatal("next handler ran for a rejected request")
			}
			if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="infra-lab"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %q", w.Body.String())
			}
			if body["error"] != "unauthorized" || body["message"] != tt.wantMsg {
				t.Errorf("body = %v", body)
			}
			if rec[tt.wantReason] != 1 || len(rec) != 1 {
				t.Errorf("recorded failures = %v, want one %q", rec, tt.wantReason)
			}

			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("want exactly one JSON warn line, got %q", logs.String())
			}
			if line["level"] != "warn" || line["msg"] != "authentication rejected" ||
				line["reason"] != string(tt.wantReason) || line["request_id"] != "rid-1" || line["path"] != "/admin/api/status" {
				t.Errorf("warn line = %v", line)
			}
			if strings.Contains(logs.String(), token[:10]) || strings.Contains(logs.String(), "wrong-token") {
				t.Errorf("log line leaks the presented token: %s", logs.String())
			}
		})
	}
}
