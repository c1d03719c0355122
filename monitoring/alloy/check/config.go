package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/token"
)

// projectLabel is the compose project of a container as discovery.docker exposes it.
const projectLabel = "__meta_docker_container_label_com_docker_compose_project"

// summary is what the rest of the lab relies on: the suite's LogQL and the dashboards may use
// only these stream labels, and Loki holds only these projects' logs.
type summary struct {
	StreamLabels       []string `json:"stream_labels"`
	StructuredMetadata []string `json:"structured_metadata"`
	Projects           []string `json:"projects"`
}

// rule is one `rule` block of discovery.relabel.
type rule struct {
	SourceLabels []string
	Regex        string
	Action       string // "replace" when unset: Alloy's default
	TargetLabel  string
	Pos          token.Pos
}

// parse reads an Alloy file with Alloy's own parser; its errors carry file:line:col.
func parse(filename string, src []byte) (*ast.File, error) {
	return parser.ParseFile(filename, src)
}

// blocks are the blocks of body named name (e.g. "discovery.relabel"), whatever their label.
func blocks(body ast.Body, name string) []*ast.BlockStmt {
	var found []*ast.BlockStmt
	for _, stmt := range body {
		if b, ok := stmt.(*ast.BlockStmt); ok && strings.Join(b.Name, ".") == name {
			found = append(found, b)
		}
	}
	return found
}

// block is the one block `name "label"` of body.
func block(body ast.Body, name, label string) (*ast.BlockStmt, error) {
	for _, b := range blocks(body, name) {
		if b.Label == label {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no %s %q block", name, label)
}

// attr is the value of attribute name in body, nil when absent.
func attr(body ast.Body, name string) ast.Expr {
	for _, stmt := range body {
		if a, ok := stmt.(*ast.AttributeStmt); ok && a.Name.Name == name {
			return a.Value
		}
	}
	return nil
}

// stringValue is a string literal's value (Alloy strings are Go strings: strconv.Unquote).
func stringValue(e ast.Expr) (string, error) {
	lit, ok := e.(*ast.LiteralExpr)
	if !ok || lit.Kind != token.STRING {
		return "", fmt.Errorf("%s: want a string literal", where(e))
	}
	return strconv.Unquote(lit.Value)
}

// stringList is the value of an array of string literals.
func stringList(e ast.Expr) ([]string, error) {
	arr, ok := e.(*ast.ArrayExpr)
	if !ok {
		return nil, fmt.Errorf("%s: want an array of strings", where(e))
	}
	values := make([]string, 0, len(arr.Elements))
	for _, el := range arr.Elements {
		s, err := stringValue(el)
		if err != nil {
			return nil, err
		}
		values = append(values, s)
	}
	return values, nil
}

// keys are the field names of an object literal ({ level = "" }).
func keys(e ast.Expr) ([]string, error) {
	obj, ok := e.(*ast.ObjectExpr)
	if !ok {
		return nil, fmt.Errorf("%s: want an object", where(e))
	}
	names := make([]string, 0, len(obj.Fields))
	for _, f := range obj.Fields {
		names = append(names, f.Name.Name)
	}
	return names, nil
}

// reference spells a component export such as discovery.docker.lab.targets.
func reference(e ast.Expr) (string, error) {
	switch v := e.(type) {
	case *ast.IdentifierExpr:
		return v.Ident.Name, nil
	case *ast.AccessExpr:
		base, err := reference(v.Value)
		if err != nil {
			return "", err
		}
		return base + "." + v.Name.Name, nil
	}
	return "", fmt.Errorf("%s: want a reference like a.b.c", where(e))
}

// where is a node's file:line:col, for messages a reader can jump to.
func where(n ast.Node) string {
	if n == nil {
		return "?"
	}
	return ast.StartPos(n).Position().String()
}

// rules are the `rule` blocks of a discovery.relabel block, in order.
func rules(relabel *ast.BlockStmt) ([]rule, error) {
	var found []rule
	for _, b := range blocks(relabel.Body, "rule") {
		r := rule{Action: "replace", Pos: b.NamePos}
		var err error
		if e := attr(b.Body, "source_labels"); e != nil {
			if r.SourceLabels, err = stringList(e); err != nil {
				return nil, err
			}
		}
		for _, field := range []struct {
			name string
			dst  *string
		}{{"regex", &r.Regex}, {"action", &r.Action}, {"target_label", &r.TargetLabel}} {
			if e := attr(b.Body, field.name); e != nil {
				if *field.dst, err = stringValue(e); err != nil {
					return nil, err
				}
			}
		}
		found = append(found, r)
	}
	return found, nil
}

// stageKeys are the keys of attribute `values` of every `stage` block of every loki.process.
func stageKeys(file *ast.File, stage string) ([]string, error) {
	var names []string
	for _, process := range blocks(file.Body, "loki.process") {
		for _, b := range blocks(process.Body, stage) {
			e := attr(b.Body, "values")
			if e == nil {
				return nil, fmt.Errorf("%s: %s without values", where(b), stage)
			}
			k, err := keys(e)
			if err != nil {
				return nil, err
			}
			names = append(names, k...)
		}
	}
	return names, nil
}

// summarize derives the stream labels, structured metadata and shipped projects from the AST.
func summarize(file *ast.File) (summary, error) {
	labels := []string{}
	projects := []string{}
	for _, relabel := range blocks(file.Body, "discovery.relabel") {
		rs, err := rules(relabel)
		if err != nil {
			return summary{}, err
		}
		for _, r := range rs {
			if r.TargetLabel != "" {
				labels = append(labels, r.TargetLabel)
			}
			if r.Action == "keep" && slices.Equal(r.SourceLabels, []string{projectLabel}) {
				names, err := alternatives(r.Regex)
				if err != nil {
					return summary{}, fmt.Errorf("%s: %w", r.Pos.Position(), err)
				}
				projects = append(projects, names...)
			}
		}
	}
	for _, stage := range []string{"stage.labels", "stage.static_labels"} {
		k, err := stageKeys(file, stage)
		if err != nil {
			return summary{}, err
		}
		labels = append(labels, k...)
	}
	metadata, err := stageKeys(file, "stage.structured_metadata")
	if err != nil {
		return summary{}, err
	}
	return summary{StreamLabels: sorted(labels), StructuredMetadata: sorted(metadata), Projects: sorted(projects)}, nil
}

// literalName is a compose project name: no regex metacharacters, so the rule matches it exactly
// (Alloy anchors relabel regexes).
var literalName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// alternatives are the project names of a keep regex such as "infralab|infralab-test".
func alternatives(re string) ([]string, error) {
	names := strings.Split(re, "|")
	for _, name := range names {
		if !literalName.MatchString(name) {
			return nil, fmt.Errorf("keep regex %q: %q is not a compose project name", re, name)
		}
	}
	return names, nil
}

// sorted is values sorted and without duplicates, never nil (JSON [] rather than null).
func sorted(values []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(values)))
	if out == nil {
		return []string{}
	}
	return out
}
