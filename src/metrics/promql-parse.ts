import { parser } from "@prometheus-io/lezer-promql";

/** What reading a PromQL expression found: the first syntax error, and the series it selects. */
export interface PromqlReading {
  /** Undefined when the expression parses. */
  readonly error: string | undefined;
  /** Series names selected by name (`name{…}` or `{__name__="name"}`), in order, without repeats. */
  readonly series: readonly string[];
}

/**
 * Reads PromQL with the Prometheus project's own grammar (@prometheus-io/lezer-promql, the parser
 * of Prometheus's web UI), so that a template can be checked at start-up without a Prometheus at
 * hand. The grammar checks syntax, not types: `rate(x)` parses here and fails in Prometheus.
 */
export function readPromql(text: string): PromqlReading {
  const tree = parser.parse(text);
  let error: string | undefined;
  const series: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError && error === undefined) {
      const at = cursor.from;
      const near = text.slice(Math.max(0, at - 20), at + 20);
      error = `does not parse as PromQL at character ${at + 1} (near ${JSON.stringify(near)})`;
    }
    if (cursor.name === "VectorSelector") {
      const name = selectedName(cursor.node, text);
      if (name !== undefined && !series.includes(name)) series.push(name);
    }
  } while (cursor.next());
  if (text.trim() === "") error = "is empty";
  return { error, series };
}

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

function selectedName(selector: SyntaxNode, text: string): string | undefined {
  const identifier = selector.getChild("Identifier");
  if (identifier) return text.slice(identifier.from, identifier.to);
  for (const matcher of selector.getChild("LabelMatchers")?.getChildren("UnquotedLabelMatcher") ?? []) {
    const label = matcher.getChild("LabelName");
    const op = matcher.getChild("MatchOp")?.getChild("EqlSingle");
    const value = matcher.getChild("StringLiteral");
    if (label && op && value && text.slice(label.from, label.to) === "__name__") {
      return unquote(text.slice(value.from, value.to));
    }
  }
  return undefined;
}

/** A PromQL string literal's content; escapes are rare in series names and kept as written. */
function unquote(literal: string): string {
  return literal.length >= 2 ? literal.slice(1, -1) : literal;
}
