package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/grafana/alloy/syntax/ast"
)

// What the lab relies on in config.alloy, one function per concern. Each returns an error naming
// the file:line:col at fault, so the mutation test can show each one failing on a broken copy.

const lokiPath = "../../loki/loki.yml"

// sample is one line of a format a stage.regex reads, and the level it must extract.
type sample struct{ format, line, level string }

var samples = []sample{
	{"logfmt", "ts=2026-12-07T19:09:14.123Z caller=main.go:1 level=warn msg=x", "warn"},
	{"slog text", `time=2026-12-07T19:09:14.123Z level=ERROR msg="db down"`, "ERROR"},
	{"Grafana logfmt", `logger=sqlstore t=2026-12-07T19:09:14.12Z level=error msg="x y" error="z"`, "error"},
	{"glog", "E1207 19:09:14.123456       1 manager.go:123] failed to get container", "E"},
	{"nginx error_log", "2026/12/07 19:09:14 [error] 22#22: *1 connect() failed", "error"},
	{"PostgreSQL", `2026-12-07 19:09:14.123 UTC [42] ERROR:  relation "x" does not exist`, "ERROR"},
}

// A service's JSON line whose message looks like logfmt: its level is stage.json's to set.
const jsonLine = `{"ts":"2026-12-07T19:09:14Z","level":"info","msg":"level=error ts=1"}`

// check is one thing the lab relies on, run against a parsed configuration.
type check struct {
	name string
	run  func(*ast.File) error
}

var checks = []check{
	{"relabel filters docker targets", checkRelabelTargets},
	{"first rule keeps the two labs", checkKeepRule},
	{"project label from compose project", checkProjectRule},
	{"source reads filtered targets", checkSource},
	{"discovery refreshes within 10s", checkRefresh},
	{"stream labels", checkStreamLabels},
	{"structured metadata", checkMetadata},
	{"level regexes", checkLevelRegexes},
	{"level spelled one way", checkLevelTemplate},
	{"pushes where loki listens", checkPush},
}

func labRelabel(f *ast.File) (*ast.BlockStmt, []rule, error) {
	relabel, err := block(f.Body, "discovery.relabel", "lab")
	if err != nil {
		return nil, nil, err
	}
	rs, err := rules(relabel)
	return relabel, rs, err
}

func checkRelabelTargets(f *ast.File) error {
	if _, err := block(f.Body, "discovery.docker", "lab"); err != nil {
		return err
	}
	relabel, _, err := labRelabel(f)
	if err != nil {
		return err
	}
	return wantReference(relabel, "targets", "discovery.docker.lab.targets")
}

func checkKeepRule(f *ast.File) error {
	_, rs, err := labRelabel(f)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return fmt.Errorf("discovery.relabel \"lab\" has no rules")
	}
	first := rs[0]
	if first.Action != "keep" || !slices.Equal(first.SourceLabels, []string{projectLabel}) {
		return fmt.Errorf("%s: first rule is %s on %v, want keep on %s", first.Pos.Position(), first.Action, first.SourceLabels, projectLabel)
	}
	names, err := alternatives(first.Regex)
	if err != nil {
		return err
	}
	if want := []string{"infralab", "infralab-test"}; !slices.Equal(sorted(names), want) {
		return fmt.Errorf("keep rule ships %v, want %v", names, want)
	}
	return nil
}

func checkProjectRule(f *ast.File) error {
	_, rs, err := labRelabel(f)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.TargetLabel == "project" && r.Action == "replace" && slices.Equal(r.SourceLabels, []string{projectLabel}) &&
			(r.Regex == "" || r.Regex == "(.*)") {
			return nil
		}
	}
	return fmt.Errorf("no rule copies %s into project", projectLabel)
}

func checkSource(f *ast.File) error {
	sources := blocks(f.Body, "loki.source.docker")
	if len(sources) == 0 {
		return fmt.Errorf("no loki.source.docker block")
	}
	for _, s := range sources {
		if err := wantReference(s, "targets", "discovery.relabel.lab.output"); err != nil {
			return err
		}
		// loki.source.docker ignores keep/drop in relabel_rules: filtering there would ship everything.
		if e := attr(s.Body, "relabel_rules"); e != nil {
			return fmt.Errorf("%s: loki.source.docker %q has relabel_rules; filter in discovery.relabel", where(e), s.Label)
		}
	}
	return nil
}

func checkRefresh(f *ast.File) error {
	docker, err := block(f.Body, "discovery.docker", "lab")
	if err != nil {
		return err
	}
	e := attr(docker.Body, "refresh_interval")
	if e == nil {
		return fmt.Errorf("%s: discovery.docker without refresh_interval refreshes every 60s", where(docker))
	}
	s, err := stringValue(e)
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%s: %w", where(e), err)
	}
	if d > 10*time.Second {
		return fmt.Errorf("%s: refresh_interval %s > 10s: a drill's new container goes unlogged", where(e), d)
	}
	return nil
}

func checkStreamLabels(f *ast.File) error {
	return wantSummary(f, "stream labels", func(s summary) []string { return s.StreamLabels },
		[]string{"container", "level", "project", "service"})
}

func checkMetadata(f *ast.File) error {
	return wantSummary(f, "structured metadata", func(s summary) []string { return s.StructuredMetadata },
		[]string{"request_id"})
}

func wantSummary(f *ast.File, what string, get func(summary) []string, want []string) error {
	s, err := summarize(f)
	if err != nil {
		return err
	}
	if got := get(s); !slices.Equal(got, want) {
		return fmt.Errorf("%s = %v, want %v", what, got, want)
	}
	return nil
}

func checkLevelRegexes(f *ast.File) error {
	exprs, err := stageStrings(f, "stage.regex", "expression")
	if err != nil {
		return err
	}
	var compiled []*regexp.Regexp
	for _, st := range exprs {
		e, expr := st.at, st.value
		// Alloy compiles stage.regex with Go's regexp (RE2): the same check as Alloy's.
		re, err := regexp.Compile(expr)
		if err != nil {
			return fmt.Errorf("%s: %w", where(e), err)
		}
		if re.SubexpIndex("level") < 0 {
			return fmt.Errorf("%s: %q has no (?P<level>...) group", where(e), expr)
		}
		if re.MatchString(jsonLine) {
			return fmt.Errorf("%s: %q matches a JSON line and would override its level", where(e), expr)
		}
		if !slices.ContainsFunc(samples, func(s sample) bool { return re.MatchString(s.line) }) {
			return fmt.Errorf("%s: %q matches no sample line", where(e), expr)
		}
		compiled = append(compiled, re)
	}
	for _, s := range samples {
		var levels []string
		for _, re := range compiled {
			if m := re.FindStringSubmatch(s.line); m != nil {
				levels = append(levels, m[re.SubexpIndex("level")])
			}
		}
		if !slices.Equal(levels, []string{s.level}) {
			return fmt.Errorf("%s line %q: levels %v from the stage.regex blocks, want exactly [%s]", s.format, s.line, levels, s.level)
		}
	}
	return nil
}

// stageString is one string attribute of a loki.process stage, with where it stands.
type stageString struct {
	at    ast.Expr
	value string
}

// stageStrings is the `name` attribute of every `stage` block of every loki.process; a stage
// without it is an error (Alloy would refuse it too).
func stageStrings(f *ast.File, stage, name string) ([]stageString, error) {
	var found []stageString
	for _, process := range blocks(f.Body, "loki.process") {
		for _, b := range blocks(process.Body, stage) {
			e := attr(b.Body, name)
			if e == nil {
				return nil, fmt.Errorf("%s: %s without %s", where(b), stage, name)
			}
			v, err := stringValue(e)
			if err != nil {
				return nil, err
			}
			found = append(found, stageString{e, v})
		}
	}
	return found, nil
}

// Alloy's template stage: Go's text/template with ToLower among its functions; .Value is the
// extracted value, absent for a line whose format no stage read (an empty result drops it).
var levelSpellings = []struct {
	extracted any
	want      string
}{
	{"ERROR", "error"}, {"E", "error"}, {"W", "warn"}, {"I", "info"}, {"F", "fatal"},
	{"warn", "warn"}, {"crit", "crit"}, {"FATAL", "fatal"}, {nil, ""},
}

func checkLevelTemplate(f *ast.File) error {
	templates, err := stageStrings(f, "stage.template", "template")
	if err != nil {
		return err
	}
	for _, st := range templates {
		e, text := st.at, st.value
		tmpl, err := template.New("level").Funcs(template.FuncMap{"ToLower": strings.ToLower}).Parse(text)
		if err != nil {
			return fmt.Errorf("%s: %w", where(e), err)
		}
		for _, s := range levelSpellings {
			var out strings.Builder
			if err := tmpl.Execute(&out, map[string]any{"Value": s.extracted}); err != nil {
				return fmt.Errorf("%s: level %v: %w", where(e), s.extracted, err)
			}
			if out.String() != s.want {
				return fmt.Errorf("%s: level %v becomes %q, want %q", where(e), s.extracted, out.String(), s.want)
			}
		}
		return nil
	}
	return fmt.Errorf("no stage.template normalises level")
}

// lokiPort is loki.yml's server.http_listen_port: a line scan keeps this module standard library only.
var lokiPort = sync.OnceValues(func() (string, error) {
	src, err := os.ReadFile(lokiPath)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s+http_listen_port:\s*(\d+)\s*$`).FindSubmatch(src)
	if m == nil {
		return "", fmt.Errorf("%s: no http_listen_port", lokiPath)
	}
	return string(m[1]), nil
})

func checkPush(f *ast.File) error {
	port, err := lokiPort()
	if err != nil {
		return err
	}
	want := fmt.Sprintf("http://loki:%s/loki/api/v1/push", port)
	writes := blocks(f.Body, "loki.write")
	if len(writes) != 1 {
		return fmt.Errorf("%d loki.write blocks, want 1", len(writes))
	}
	endpoints := blocks(writes[0].Body, "endpoint")
	if len(endpoints) != 1 {
		return fmt.Errorf("%s: %d endpoints, want 1", where(writes[0]), len(endpoints))
	}
	e := attr(endpoints[0].Body, "url")
	if e == nil {
		return fmt.Errorf("%s: endpoint without url", where(endpoints[0]))
	}
	url, err := stringValue(e)
	if err != nil {
		return err
	}
	if url != want {
		return fmt.Errorf("%s: pushes to %s, want %s (loki.yml)", where(e), url, want)
	}
	return nil
}

func wantReference(b *ast.BlockStmt, name, want string) error {
	e := attr(b.Body, name)
	if e == nil {
		return fmt.Errorf("%s: %s %q has no %s", where(b), strings.Join(b.Name, "."), b.Label, name)
	}
	got, err := reference(e)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: %s = %s, want %s", where(e), name, got, want)
	}
	return nil
}
