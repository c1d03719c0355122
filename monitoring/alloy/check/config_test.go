package main

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const configPath = "../config.alloy"

func TestConfig(t *testing.T) {
	src, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	file, err := parse(configPath, src)
	if err != nil {
		t.Fatalf("Alloy's parser rejects the config: %v", err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(file); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestChecksCatchBrokenConfig breaks a copy of the config and expects the named check to fail:
// a check that passes on anything proves nothing.
func TestChecksCatchBrokenConfig(t *testing.T) {
	src, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	keepRule := `  rule {
    source_labels = ["__meta_docker_container_label_com_docker_compose_project"]
    regex         = "infralab|infralab-test"
    action        = "keep"
  }
`
	tests := []struct {
		name, old, new string
		fails          string // a check's name, or "parse"
	}{
		{"unterminated string", `"infralab|infralab-test"`, `"infralab|infralab-test`, "parse"},
		{"missing brace", "  refresh_interval = \"5s\"\n}", `  refresh_interval = "5s"`, "parse"},
		{"relabel reads nothing", "targets = discovery.docker.lab.targets", "targets = []", "relabel filters docker targets"},
		{"no keep rule", keepRule, "", "first rule keeps the two labs"},
		{"keep without the suite's lab", `"infralab|infralab-test"`, `"infralab"`, "first rule keeps the two labs"},
		{"keep as a regex", `"infralab|infralab-test"`, `"infralab.*"`, "first rule keeps the two labs"},
		{"project from the service", "compose_project\"]\n    target_label  = \"project\"", "compose_service\"]\n    target_label  = \"project\"", "project label from compose project"},
		{"source reads every container", "targets    = discovery.relabel.lab.output", "targets    = discovery.docker.lab.targets", "source reads filtered targets"},
		{"keep in the source", "  forward_to = [loki.process.lab.receiver]", "  relabel_rules = discovery.relabel.lab.rules\n  forward_to = [loki.process.lab.receiver]", "source reads filtered targets"},
		{"default refresh", "  refresh_interval = \"5s\"\n", "", "discovery refreshes within 10s"},
		{"slow refresh", `refresh_interval = "5s"`, `refresh_interval = "30s"`, "discovery refreshes within 10s"},
		{"request_id as a label", `values = { level = "" }`, `values = { level = "", request_id = "" }`, "stream labels"},
		{"static label", `values = { level = "" }`, "values = { level = \"\" }\n  }\n  stage.static_labels {\n    values = { env = \"lab\" }", "stream labels"},
		{"more metadata", `values = { request_id = "" }`, `values = { request_id = "", trace_id = "" }`, "structured metadata"},
		{"unnamed level group", `(?P<level>[A-Za-z]+)`, `([A-Za-z]+)`, "level regexes"},
		{"not RE2", `(?P<level>[A-Za-z]+)`, `(?=[a-z])(?P<level>[A-Za-z]+)`, "level regexes"},
		{"unanchored logfmt", `^(?:[a-z_]+=`, `(?:[a-z_]+=`, "level regexes"},
		{"glog letter kept", `{{ if eq $v \"e\" }}error`, `{{ if eq $v \"x\" }}error`, "level spelled one way"},
		{"glog lines lose their level", `^(?P<level>[IWEF])`, `^[IWEF]`, "level regexes"},
		{"postgres lines lose their level", `\\[\\d+\\] (?P<level>[A-Z]+):`, `\\[\\d+\\] (?P<level>[a-z]+):`, "level regexes"},
		{"wrong port", "http://loki:3100/", "http://loki:3101/", "pushes where loki listens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(text, tt.old); n != 1 {
				t.Fatalf("mutation applies to %d places, want 1: %q", n, tt.old)
			}
			file, err := parse(configPath, []byte(strings.Replace(text, tt.old, tt.new, 1)))
			if tt.fails == "parse" {
				// Alloy's message names the place: ../config.alloy:LINE:COL: ...
				if err == nil || !regexp.MustCompile(`config\.alloy:\d+:\d+: `).MatchString(err.Error()) {
					t.Fatalf("want a positioned parse error, got %v", err)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("mutation should parse: %v", err)
			}
			i := slices.IndexFunc(checks, func(c check) bool { return c.name == tt.fails })
			if i < 0 {
				t.Fatalf("no check named %q", tt.fails)
			}
			if err := checks[i].run(file); err == nil {
				t.Errorf("check %q passes on the broken config", tt.fails)
			} else {
				t.Log(err)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	src, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	file, err := parse(configPath, src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := summarize(file)
	if err != nil {
		t.Fatal(err)
	}
	want := summary{
		StreamLabels:       []string{"container", "level", "project", "service"},
		StructuredMetadata: []string{"request_id"},
		Projects:           []string{"infralab", "infralab-test"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
}
