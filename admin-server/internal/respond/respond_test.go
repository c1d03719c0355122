package respond

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		value      any
		wantStatus int
		wantBody   string
	}{
		{"object", 200, map[string]string{"status": "UP"}, 200, `{"status":"UP"}` + "\n"},
		{"error body", 404, ErrorBody{Error: "not_found", Message: "no route for /x"}, 404, `{"error":"not_found","message":"no route for /x"}` + "\n"},
		{"unencodable value becomes 500", 200, make(chan int), 500, `{"error":"internal","message":"failed to encode response"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			JSON(w, tt.status, tt.value)
			checkResponse(t, w, tt.wantStatus, tt.wantBody)
		})
	}
}

func TestError(t *testing.T) {
	w := httptest.NewRecorder()
	Error(w, http.StatusUnauthorized, "unauthorized", "missing bearer token")
	checkResponse(t, w, 401, `{"error":"unauthorized","message":"missing bearer token"}`+"\n")
}

// checkResponse asserts the status, the exact body and the headers every JSON
// response carries.
func checkResponse(t *testing.T, w *httptest.ResponseRecorder, wantStatus int, wantBody string) {
	t.Helper()
	if w.Code != wantStatus || w.Body.String() != wantBody {
		t.Fatalf("got %d %q, want %d %q", w.Code, w.Body.String(), wantStatus, wantBody)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
