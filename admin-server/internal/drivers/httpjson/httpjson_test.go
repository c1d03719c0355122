package httpjson

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/infra-lab/admin-server/internal/requestid"
)

func TestNewRequestSendsJSONAndTheRequestID(t *testing.T) {
	ctx := requestid.WithID(context.Background(), "req-1")
	req, err := NewRequest(ctx, http.MethodPost, "http://example.test/x", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := req.Header.Get(requestid.Header); got != "req-1" {
		t.Errorf("%s = %q", requestid.Header, got)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != `{"a":1}` {
		t.Errorf("body = %q", b)
	}

	req, err = NewRequest(context.Background(), http.MethodGet, "http://example.test/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.Body != nil || req.Header.Get("Content-Type") != "" || req.Header.Get(requestid.Header) != "" {
		t.Errorf("bodyless request without an id: body %v, header %v", req.Body, req.Header)
	}
}

func TestDoChecksTheStatusAndDecodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, `{"name":"x"}`)
		case "/json-error":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":"conflict","message":"already there"}`)
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "  plain failure\n")
		}
	}))
	defer srv.Close()
	get := func(path string) *http.Request {
		req, err := NewRequest(context.Background(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}

	var out struct{ Name string }
	if err := Do(srv.Client(), get("/ok"), "svc", &out, http.StatusOK); err != nil || out.Name != "x" {
		t.Errorf("Do(/ok) = %v, out %+v", err, out)
	}
	if err := Do(srv.Client(), get("/ok"), "svc", nil, http.StatusOK); err != nil {
		t.Errorf("Do(/ok, nil out) = %v", err)
	}
	for path, want := range map[string]string{
		"/ok":         `svc answered 200: {"name":"x"}`,
		"/json-error": "svc answered 409: already there",
		"/plain":      "svc answered 502: plain failure",
	} {
		err := Do(srv.Client(), get(path), "svc", nil, http.StatusCreated)
		if err == nil || err.Error() != want {
			t.Errorf("Do(%s) = %v, want %q", path, err, want)
		}
	}
}
