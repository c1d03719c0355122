// Parses LogQL with Grafana's Lezer grammar (@grafana/lezer-logql, Apache-2.0): Loki's own Go
// parser is AGPL. Reads a JSON array of queries on stdin and prints, per query, the parse errors
// and the stream selectors' matchers, for tests/static/test_logql.py.
import { parser } from "@grafana/lezer-logql";

const OPS = new Set(["Eq", "Neq", "Re", "Nre"]);

// LogQL strings are Go string literals: "..." with Go's escapes, or `...` raw. The grammar takes
// any backslash pair; Loki (strconv.Unquote) rejects `"\s"`, so an invalid escape is an error here.
function unquote(literal) {
  if (literal.startsWith("`")) return literal.slice(1, -1);
  const body = literal.slice(1, -1);
  const simple = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/gs, (_, esc) => {
    if (esc in simple) return simple[esc];
    if (/^[xuU]/.test(esc)) return String.fromCodePoint(parseInt(esc.slice(1), 16));
    if (/^[0-7]{3}$/.test(esc)) return String.fromCodePoint(parseInt(esc, 8));
    throw new SyntaxError(`invalid escape \\${esc}`);
  });
}

function insideSelector(node) {
  for (let n = node.parent; n; n = n.parent) if (n.type.name === "Selector") return true;
  return false;
}

function inspect(query) {
  const errors = [];
  const selectors = [];
  parser.parse(query).iterate({
    enter(ref) {
      if (ref.type.isError) {
        // An error node is often empty: show the text where the parser gave up.
        errors.push({ from: ref.from, to: ref.to, text: query.slice(ref.from, Math.max(ref.to, ref.from + 10)) });
      }
      if (ref.type.name === "String") {
        try {
          unquote(query.slice(ref.from, ref.to));
        } catch (e) {
          errors.push({ from: ref.from, to: ref.to, text: `${query.slice(ref.from, ref.to)}: ${e.message}` });
        }
      }
      // Matcher also appears in label filters after `|`: only the stream selector's count.
      if (ref.type.name !== "Matcher" || !insideSelector(ref.node)) return;
      const parts = {};
      for (let c = ref.node.firstChild; c; c = c.nextSibling) {
        const text = query.slice(c.from, c.to);
        if (c.type.name === "Identifier") parts.name = text;
        else if (OPS.has(c.type.name)) parts.op = text;
        else if (c.type.name === "String") parts.value = text;
      }
      if (parts.name !== undefined && parts.op !== undefined && parts.value !== undefined) {
        let value = parts.value;
        try {
          value = unquote(value);
        } catch {
          // already reported as an error above; keep the literal as written
        }
        selectors.push([parts.name, parts.op, value]);
      }
    },
  });
  const labels = [...new Set(selectors.map(([name]) => name))];
  return { query, errors, labels, selectors };
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(JSON.parse(input).map(inspect)) + "\n");
