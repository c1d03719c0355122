package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/ratelimit"
)

// send is do with a JSON body.
func send(h http.Handler, method, target, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Admin-Actor", "pytest-scenario_1")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestFaultAPIRequiresToken(t *testing.T) {
	f := newFixture(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/api/fault-types"}, {"GET", "/admin/api/targets"}, {"GET", "/admin/api/faults"},
		{"POST", "/admin/api/faults"}, {"DELETE", "/admin/api/faults"}, {"GET", "/admin/api/faults/f-1"},
		{"DELETE", "/admin/api/faults/f-1"}, {"GET", "/admin/api/history"}, {"GET", "/admin/api/traffic"},
		{"PUT", "/admin/api/traffic"},
	} {
		for _, token := range []string{"", "wrong-token-wrong-token"} {
			if w := send(f.app, r.method, r.path, token, `{}`); w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q = %d, want 401", r.method, r.path, token, w.Code)
			}
		}
	}
	if len(f.fake.Applied()) != 0 {
		t.Fatal("an unauthenticated request reached the driver")
	}
}

func TestInjectErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantError  string
		wantMsg    string
	}{
		{"unknown type", `{"type":"fake.nope","target":"alpha"}`, 400, "bad_request", `type: unknown fault type "fake.nope" (known: fake.slow, fake.off)`},
		{"unknown target", `{"type":"fake.slow","target":"gamma"}`, 400, "unknown_target", `target: unknown target "gamma"`},
		{"out of range", `{"type":"fake.slow","target":"alpha","params":{"delay_ms":5000}}`, 400, "bad_request", "params.delay_ms: must be between 1 and 1000, got 5000"},
		{"unknown param", `{"type":"fake.slow","target":"alpha","params":{"speed":1}}`, 400, "bad_request", "params.speed: unknown parameter"},
		{"ttl over maximum", `{"type":"fake.off","target":"alpha","ttl":301}`, 400, "bad_request", "ttl: 301 s is over the maximum of 300 s for fake.off"},
		{"ttl string over maximum", `{"type":"fake.off","target":"alpha","ttl":"1h"}`, 400, "bad_request", "ttl: 3600 s is over the maximum of 300 s"},
		{"malformed", `{"type":`, 400, "bad_request", "body: malformed JSON"},
		{"unknown field", `{"type":"fake.off","target":"alpha","when":"now"}`, 400, "bad_request", `body: unknown field "when"`},
		{"missing target", `{"type":"fake.off"}`, 400, "bad_request", "target: is required"},
		{"too large", `{"type":"` + strings.Repeat("x", 20000) + `"}`, 400, "bad_request", "body: larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := send(f.app, "POST", "/admin/api/faults", testToken, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.wantStatus, w.Body.String())
			}
			body := decodeJSON(t, w)
			if body["error"] != tt.wantError || !strings.Contains(body["message"].(string), tt.wantMsg) {
				t.Fatalf("body = %v, want error %q message containing %q", body, tt.wantError, tt.wantMsg)
			}
		})
	}
}

func TestFaultLifecycleOverAPI(t *testing.T) {
	f := newFixture(t)

	w := send(f.app, "GET", "/admin/api/fault-types", testToken, "")
	var types struct {
		DefaultTTL int64 `json:"default_ttl_seconds"`
		MaxTTL     int64 `json:"max_ttl_seconds"`
		Types      []struct {
			Name   string `json:"name"`
			Driver string `json:"driver"`
			Params []struct {
				Name    string `json:"name"`
				Type    string `json:"type"`
				Minimum int64  `json:"minimum"`
				Maximum int64  `json:"maximum"`
				Default any    `json:"default"`
			} `json:"params"`
		} `json:"types"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &types); err != nil || w.Code != 200 {
		t.Fatalf("fault-types: %d %s", w.Code, w.Body.String())
	}
	if types.DefaultTTL != 30 || types.MaxTTL != 300 || len(types.Types) != 2 || types.Types[0].Params[0].Maximum != 1000 || types.Types[0].Driver != "fake" {
		t.Fatalf("fault-types = %+v", types)
	}

	w = send(f.app, "GET", "/admin/api/targets", testToken, "")
	if !strings.Contains(w.Body.String(), `"targets":["alpha","beta"]`) {
		t.Fatalf("targets = %s", w.Body.String())
	}

	w = send(f.app, "POST", "/admin/api/faults", testToken, `{"type":"fake.slow","target":"alpha","params":{"delay_ms":250},"ttl":"2m"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("inject = %d %s", w.Code, w.Body.String())
	}
	var created struct {
		Fault FaultView `json:"fault"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	fa := created.Fault
	if fa.ID == "" || fa.RemainingSeconds != 120 || fa.TTLSeconds != 120 || fa.Actor != "api:pytest-scenario_1" || fa.State != "active" {
		t.Fatalf("created = %+v", fa)
	}
	if loc := w.Header().Get("Location"); loc != "/admin/api/faults/"+fa.ID {
		t.Errorf("Location = %q", loc)
	}
	if w := send(f.app, "POST", "/admin/api/faults", testToken, `{"type":"fake.slow","target":"alpha"}`); w.Code != http.StatusConflict {
		t.Fatalf("duplicate inject = %d %s", w.Code, w.Body.String())
	}

	w = send(f.app, "GET", "/admin/api/faults", testToken, "")
	if !strings.Contains(w.Body.String(), `"id":"`+fa.ID+`"`) || !strings.Contains(w.Body.String(), `"remaining_seconds":120`) {
		t.Fatalf("active list = %s", w.Body.String())
	}
	if w := send(f.app, "GET", "/admin/api/faults/"+fa.ID, testToken, ""); w.Code != 200 {
		t.Fatalf("get = %d", w.Code)
	}
	if w := send(f.app, "GET", "/admin/api/faults/f-nope", testToken, ""); w.Code != 404 {
		t.Fatalf("get unknown = %d", w.Code)
	}

	w = send(f.app, "DELETE", "/admin/api/faults/"+fa.ID, testToken, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"reverted"`) || !strings.Contains(w.Body.String(), `"remaining_seconds":0`) {
		t.Fatalf("revert = %d %s", w.Code, w.Body.String())
	}
	if w := send(f.app, "DELETE", "/admin/api/faults/"+fa.ID, testToken, ""); w.Code != 404 {
		t.Fatalf("second revert = %d", w.Code)
	}

	send(f.app, "POST", "/admin/api/faults", testToken, `{"type":"fake.off","target":"alpha"}`)
	send(f.app, "POST", "/admin/api/faults", testToken, `{"type":"fake.off","target":"beta","ttl_seconds":5}`)
	w = send(f.app, "DELETE", "/admin/api/faults", testToken, "")
	var all revertAllBody
	_ = json.Unmarshal(w.Body.Bytes(), &all)
	if w.Code != 200 || len(all.Reverted) != 2 || len(f.fake.Applied()) != 0 {
		t.Fatalf("revert all = %d %s", w.Code, w.Body.String())
	}

	w = send(f.app, "GET", "/admin/api/history?limit=2", testToken, "")
	var hist struct {
		History []FaultView `json:"history"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &hist)
	if len(hist.History) != 2 || hist.History[0].State != "reverted" {
		t.Fatalf("history = %s", w.Body.String())
	}
	if w := send(f.app, "GET", "/admin/api/history?limit=0", testToken, ""); w.Code != 400 {
		t.Fatalf("history limit=0 = %d", w.Code)
	}

	// Metrics: the active gauge went to 1 and back to 0.
	body := do(f.ops, "GET", "/metrics", "", nil).Body.String()
	for _, want := range []string{
		`infralab_fault_active{target="alpha",type="fake.slow"} 0`,
		`infralab_fault_injections_total{result="ok",type="fake.slow"} 1`,
		`infralab_fault_injections_total{result="rejected",type="fake.slow"} 1`,
		`infralab_fault_revert_failures_total{type="fake.off"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestBackendFailureIs502(t *testing.T) {
	f := newFixture(t)
	f.fake.InjectErr = errors.New("connection refused")
	w := send(f.app, "POST", "/admin/api/faults", testToken, `{"type":"fake.off","target":"alpha"}`)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "connection refused") {
		t.Fatalf("inject with a failing backend = %d %s", w.Code, w.Body.String())
	}
}

func TestRateLimit(t *testing.T) {
	clock := testStart
	f := newFixtureWith(t, fixtureOptions{limiter: ratelimit.New(1, 3, func() time.Time { return clock })})
	codes := []int{}
	for range 5 {
		codes = append(codes, send(f.app, "GET", "/admin/api/faults", "wrong-token-wrong-token", "").Code)
	}
	if want := []int{401, 401, 401, 429, 429}; !equalInts(codes, want) {
		t.Fatalf("codes = %v, want %v", codes, want)
	}
	w := send(f.app, "GET", "/admin/api/faults", testToken, "")
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("limited request = %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if w := do(f.app, "GET", "/admin/health", "", nil); w.Code != 200 {
		t.Fatalf("health is rate limited: %d", w.Code)
	}
	clock = clock.Add(time.Second)
	if w := send(f.app, "GET", "/admin/api/faults", testToken, ""); w.Code != 200 {
		t.Fatalf("after a second = %d", w.Code)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTrafficAPI(t *testing.T) {
	f := newFixture(t)
	w := send(f.app, "GET", "/admin/api/traffic", testToken, "")
	for _, want := range []string{`"enabled":false`, `"max_rate_per_second":50`, `"job_share":20`, `"job_path":"/api/jobs"`, `"by_kind":{"get":{"sent":0,"failed":0},"job":{"sent":0,"failed":0}}`} {
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Fatalf("traffic = %d %s, want %s", w.Code, w.Body.String(), want)
		}
	}
	for _, tt := range []struct {
		body    string
		code    int
		message string // prefix of the 400's message
	}{
		{`{"rate_per_second":51}`, 400, "rate_per_second: must be between 0 and 50, got 51"},
		{`{"rate_per_second":-1}`, 400, "rate_per_second:"},
		{`{"paths":["http://elsewhere/"]}`, 400, "paths:"},
		{`{"job_share":101}`, 400, "job_share: must be a percentage between 0 and 100, got 101"},
		{`{"job_share":-1}`, 400, "job_share: must be a percentage between 0 and 100, got -1"},
		{`{"job_share":"20"}`, 400, "body: expected"},
		{`{"job_share":2.5}`, 400, "body: expected"},
		{`{"speed":1}`, 400, "body: expected"},
		{`{"rate_per_second":5,"paths":["/api/health","/"],"job_share":0}`, 200, ""},
		{`{"job_share":100}`, 200, ""},
	} {
		w := send(f.app, "PUT", "/admin/api/traffic", testToken, tt.body)
		if w.Code != tt.code {
			t.Errorf("PUT %s = %d %s, want %d", tt.body, w.Code, w.Body.String(), tt.code)
			continue
		}
		if tt.code == 400 {
			if body := decodeJSON(t, w); body["error"] != "bad_request" || !strings.HasPrefix(body["message"].(string), tt.message) {
				t.Errorf("PUT %s = %v, want message %q", tt.body, body, tt.message)
			}
		}
	}
	if st := f.traffic.Status(); st.RatePerSecond != 5 || st.Enabled || len(st.Paths) != 2 || st.JobShare != 100 {
		t.Fatalf("status after PUT = %+v", st)
	}
	if !strings.Contains(f.logs.String(), `"action":"traffic"`) || !strings.Contains(f.logs.String(), `"job_share":100`) {
		t.Error("traffic change not audited with its job share")
	}
}

// form posts a control-page form with the session cookie.
func form(h http.Handler, path string, values url.Values, cookie *http.Cookie, origin string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestControlPage(t *testing.T) {
	f := newFixture(t)
	w := do(f.app, "GET", "/admin/", "", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `id="login"`) || strings.Contains(w.Body.String(), "Inject a fault") {
		t.Fatalf("page without session = %d", w.Code)
	}

	if w := form(f.app, "/admin/login", url.Values{"token": {"wrong-token-wrong-token"}}, nil, ""); w.Code != http.StatusSeeOther || len(w.Result().Cookies()) != 0 {
		t.Fatalf("login with a wrong token = %d cookies %v", w.Code, w.Result().Cookies())
	}
	w = form(f.app, "/admin/login", url.Values{"token": {testToken}}, nil, "http://example.com")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login = %d", w.Code)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, testToken) {
		t.Fatalf("session cookie = %+v", cookies)
	}
	session := cookies[0]

	// Inject through the form, then see the fault with its remaining TTL.
	w = form(f.app, "/admin/ui/faults", url.Values{"type": {"fake.slow"}, "target": {"beta"}, "p_delay_ms": {"42"}, "p_mode": {"b"}, "ttl_seconds": {"90"}}, session, "http://example.com")
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "msg=injected") {
		t.Fatalf("form inject = %d %s", w.Code, w.Header().Get("Location"))
	}
	active := f.faults.Active()
	if len(active) != 1 || active[0].Int("delay_ms") != 42 || active[0].Actor != "ui" {
		t.Fatalf("active = %+v", active)
	}
	page := controlPage(t, f.app, session)
	for _, want := range []string{`data-fault-id="` + active[0].ID + `"`, "90 s", `action="/admin/ui/faults/` + active[0].ID + `/revert"`, `data-type="fake.off"`, `name="p_delay_ms" min="1" max="1000"`,
		`name="job_share" min="0" max="100" value="20"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// Out-of-range input comes back as a readable error.
	w = form(f.app, "/admin/ui/faults", url.Values{"type": {"fake.slow"}, "target": {"alpha"}, "p_delay_ms": {"0"}}, session, "")
	if loc := w.Header().Get("Location"); !strings.Contains(loc, "err=") || !strings.Contains(loc, "between") {
		t.Fatalf("bad form inject redirect = %q", loc)
	}
	// Cross-site posts and posts without a session are refused.
	if w := form(f.app, "/admin/ui/revert-all", nil, session, "http://evil.example"); w.Code != http.StatusForbidden {
		t.Fatalf("cross-site post = %d", w.Code)
	}
	if w := form(f.app, "/admin/ui/revert-all", nil, nil, ""); w.Code != http.StatusSeeOther || len(f.faults.Active()) != 1 {
		t.Fatalf("post without session = %d, active %d", w.Code, len(f.faults.Active()))
	}
	w = form(f.app, "/admin/ui/faults/"+active[0].ID+"/revert", nil, session, "")
	if w.Code != http.StatusSeeOther || len(f.faults.Active()) != 0 {
		t.Fatalf("form revert = %d, active %v", w.Code, f.faults.Active())
	}
	w = form(f.app, "/admin/ui/traffic", url.Values{"rate_per_second": {"3"}, "job_share": {"40"}}, session, "")
	if st := f.traffic.Status(); w.Code != http.StatusSeeOther || st.RatePerSecond != 3 || st.JobShare != 40 {
		t.Fatalf("form traffic = %d %+v", w.Code, st)
	}
	w = form(f.app, "/admin/ui/traffic", url.Values{"rate_per_second": {"3"}, "job_share": {"150"}}, session, "")
	if loc := w.Header().Get("Location"); !strings.Contains(loc, "err=job_share") || f.traffic.Status().JobShare != 40 {
		t.Fatalf("form traffic with job_share 150 redirect = %q, status %+v", loc, f.traffic.Status())
	}
}

// TestOpenAPICoversEveryRoute keeps openapi.yaml in step with the router.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	a := &App{}
	for pattern := range a.router().routes {
		method, path, _ := strings.Cut(pattern, " ")
		if !strings.HasPrefix(path, "/admin/api/") && path != "/admin/health" {
			continue // the control page is HTML, not API
		}
		i := strings.Index(doc, "\n  "+path+":\n")
		if i < 0 {
			t.Errorf("openapi.yaml lacks path %s", path)
			continue
		}
		section := doc[i+1:]
		if j := strings.Index(section[3:], "\n  /"); j >= 0 {
			section = section[:j+3]
		}
		if !strings.Contains(section, "\n    "+strings.ToLower(method)+":") {
			t.Errorf("openapi.yaml lacks %s under %s", method, path)
		}
	}
}
