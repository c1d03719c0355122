package httpapi

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/faults/faultstest"
)

// names renders links as "uid" or "uid?service" for compact expectations.
func names(links []dashboardLink) []string {
	var out []string
	for _, l := range links {
		s := l.UID
		if l.Service != "" {
			s += "?" + l.Service
		}
		out = append(out, s)
	}
	return out
}

func TestFaultDashboards(t *testing.T) {
	tests := []struct {
		faultType, target string
		want              []string
	}{
		{"chaos.cpu", "core-1", []string{"jvm-core-server", "service-red?core-server"}},
		{"chaos.latency", "core-2", []string{"jvm-core-server", "service-red?core-server"}},
		{"chaos.memory", "core-server", []string{"jvm-core-server", "service-red?core-server"}},
		{"chaos.errors", "worker-server", []string{"service-red?worker-server", "worker-ext-api"}},
		{"container.stop", "infralab-core-1-1", []string{"containers-host"}},
		{"container.pause", "infralab-postgres-1", []string{"containers-host"}},
		{"network.latency", "ext-api", []string{"worker-ext-api"}},
		{"network.down", "postgres", []string{"service-red?core-server", "jvm-core-server"}},
		{"chaos.cpu", "something-else", nil},
		{"fake.slow", "alpha", nil},
	}
	for _, tt := range tests {
		t.Run(tt.faultType+" on "+tt.target, func(t *testing.T) {
			if got := names(faultDashboards(tt.faultType, tt.target)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("faultDashboards() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTypeDashboards(t *testing.T) {
	tests := []struct {
		faultType string
		want      []string
	}{
		{"chaos.cpu", []string{"jvm-core-server", "service-red?core-server", "service-red?worker-server", "worker-ext-api"}},
		{"container.kill", []string{"containers-host"}},
		{"network.timeout", []string{"service-red?core-server", "jvm-core-server", "worker-ext-api"}},
		{"fake.off", nil},
	}
	for _, tt := range tests {
		t.Run(tt.faultType, func(t *testing.T) {
			if got := names(typeDashboards(tt.faultType)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("typeDashboards() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDashboardLinkView(t *testing.T) {
	injected := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	from := strconv.FormatInt(injected.Add(-5*time.Minute).UnixMilli(), 10)
	tests := []struct {
		name  string
		link  dashboardLink
		base  string
		since time.Time
		want  linkView
	}{
		{"plain", dashboardLink{dashboard: dashLabOverview}, "/grafana", time.Time{}, linkView{"Lab overview", "/grafana/d/lab-overview"}},
		{"service", dashboardLink{dashServiceRED, "worker-server"}, "/grafana", time.Time{},
			linkView{"Service RED · worker-server", "/grafana/d/service-red?var-service=worker-server"}},
		{"active fault", dashboardLink{dashServiceRED, "core-server"}, "/ops/grafana", injected,
			linkView{"Service RED · core-server", "/ops/grafana/d/service-red?from=" + from + "&to=now&var-service=core-server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.link.view(tt.base, tt.since); got != tt.want {
				t.Fatalf("view() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDashboardUIDsAreProvisioned keeps the links in step with the dashboards Grafana
// provisions from the monorepo (a renamed uid would only show as Grafana's "not found").
func TestDashboardUIDsAreProvisioned(t *testing.T) {
	files, err := filepath.Glob("../../../monitoring/grafana/dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no provisioned dashboards found (%v): run the tests inside the infra-lab repository", err)
	}
	provisioned := map[string]string{} // uid -> title
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ UID, Title string }
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		provisioned[d.UID] = d.Title
	}
	links := slices.Clone(headerDashboards)
	for _, r := range dashboardRules {
		links = append(links, r.Links...)
	}
	for _, l := range links {
		if title, ok := provisioned[l.UID]; !ok || title != l.Title {
			t.Errorf("dashboard %q (%q) is provisioned as %q (found: %v)", l.UID, l.Title, title, ok)
		}
	}
}

// chaosLike passes the fake driver off as the chaos driver, so the page has a fault type
// and an active fault that map to dashboards.
type chaosLike struct{ *faultstest.Fake }

func (chaosLike) Name() string { return "chaos" }
func (chaosLike) Types() []faults.Type {
	return []faults.Type{{Name: "chaos.cpu", Description: "test chaos", Params: []faults.ParamSpec{}}}
}

func TestControlPageLinksDashboards(t *testing.T) {
	f := newFixtureWith(t, fixtureOptions{drivers: []faults.Driver{chaosLike{faultstest.New("core-1", "worker-server")}}})
	w := send(f.app, "POST", "/admin/api/faults", testToken, `{"type":"chaos.cpu","target":"core-1"}`)
	if w.Code != 201 {
		t.Fatalf("inject = %d %s", w.Code, w.Body.String())
	}
	active := f.faults.Active()
	if len(active) != 1 {
		t.Fatalf("active = %+v", active)
	}
	from := strconv.FormatInt(active[0].InjectedAt.Add(-5*time.Minute).UnixMilli(), 10)
	page := html.UnescapeString(controlPage(t, f.app, signIn(t, f.app)))

	section := func(start, end string) string {
		i := strings.Index(page, start)
		if i < 0 {
			t.Fatalf("page lacks %q", start)
		}
		s := page[i:]
		if j := strings.Index(s, end); j >= 0 {
			s = s[:j]
		}
		return s
	}
	for _, tt := range []struct {
		where, start, end string
		want              []string
	}{
		{"header", `id="dashboards"`, "</p>", []string{`href="/grafana/d/lab-overview"`, `href="/grafana/d/experiments"`}},
		{"chaos.cpu form", `data-type="chaos.cpu"`, "</form>", []string{`href="/grafana/d/jvm-core-server"`,
			`href="/grafana/d/service-red?var-service=core-server"`, `href="/grafana/d/service-red?var-service=worker-server"`, `href="/grafana/d/worker-ext-api"`}},
		{"active fault", `data-fault-id="` + active[0].ID + `"`, "</tr>", []string{
			`href="/grafana/d/jvm-core-server?from=` + from + `&to=now"`,
			`href="/grafana/d/service-red?from=` + from + `&to=now&var-service=core-server"`}},
	} {
		s := section(tt.start, tt.end)
		for _, want := range tt.want {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %s:\n%s", tt.where, want, s)
			}
		}
	}
	if s := section(`data-type="fake.slow"`, "</form>"); strings.Contains(s, "/grafana/") {
		t.Errorf("a type without dashboards got links:\n%s", s)
	}
}
