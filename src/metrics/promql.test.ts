import { describe, expect, it } from "vitest";
import { buildCatalogue } from "./catalogue-build.js";
import {
  type PromqlAggregate,
  quoteLabelValue,
  renderTemplate,
  templatePlaceholders,
  withSeries,
} from "./promql.js";

/**
 * Reads one PromQL string literal starting at `input[start]` with the rules of Prometheus's lexer
 * (promql/parser/lex.go: lexString, lexEscape) and of the unquoting it applies afterwards (Go's
 * strconv rules). Returns the decoded value and the index just after the closing quote; throws
 * where Prometheus would report a parse error.
 */
function readPromqlString(input: string, start: number): { value: string; end: number } {
  const quote = input[start];
  if (quote !== "'" && quote !== '"') throw new Error(`no string literal at ${start}`);
  const bytes: number[] = [];
  const pushRune = (rune: number) => bytes.push(...Buffer.from(String.fromCodePoint(rune), "utf8"));
  let i = start + 1;
  for (;;) {
    const rune = input.codePointAt(i);
    if (rune === undefined) throw new Error("unterminated quoted string");
    const ch = String.fromCodePoint(rune);
    i += ch.length;
    if (ch === quote) break;
    if (ch === "\n") throw new Error("unterminated quoted string");
    // Go decodes to utf8.RuneError both for invalid UTF-8 and for a real U+FFFD; the lexer rejects both.
    if (rune === 0xfffd || (rune >= 0xd800 && rune < 0xe000)) throw new Error("invalid UTF-8 rune");
    if (ch !== "\\") {
      pushRune(rune);
      continue;
    }
    const esc = input[i++];
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92 };
    if (esc !== undefined && simple[esc] !== undefined) {
      bytes.push(simple[esc]);
    } else if (esc === quote) {
      bytes.push(quote.charCodeAt(0));
    } else if (esc !== undefined && /[0-7xuU]/.test(esc)) {
      const [digits, base] = /[0-7]/.test(esc)
        ? [3, 8]
        : esc === "x"
          ? [2, 16]
          : esc === "u"
            ? [4, 16]
            : [8, 16];
      const text = /[0-7]/.test(esc) ? input.slice(i - 1, i - 1 + digits) : input.slice(i, i + digits);
      i = /[0-7]/.test(esc) ? i - 1 + digits : i + digits;
      const pattern = base === 8 ? /^[0-7]+$/ : /^[0-9a-fA-F]+$/;
      if (text.length !== digits || !pattern.test(text)) throw new Error("illegal character in escape");
      const code = Number.parseInt(text, base);
      if (esc === "x" || base === 8) {
        if (code > 255) throw new Error("escape sequence is an invalid Unicode code point");
        bytes.push(code);
      } else {
        if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) {
          throw new Error("escape sequence is an invalid Unicode code point");
        }
        pushRune(code);
      }
    } else {
      throw new Error(`unknown escape sequence \\${esc ?? "<eof>"}`);
    }
  }
  return { value: new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes)), end: i };
}

/** Splits a query into its string literals (decoded) and its skeleton (literals replaced by <S>). */
function literals(query: string): { skeleton: string; values: string[] } {
  let skeleton = "";
  const values: string[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query[i] ?? "";
    if (ch === "'" || ch === '"') {
      const { value, end } = readPromqlString(query, i);
      values.push(value);
      skeleton += "<S>";
      i = end;
    } else {
      skeleton += ch;
      i++;
    }
  }
  return { skeleton, values };
}

const HOST = "marios-env.controlplane.domain";
const UUID = "uuid-0";
const BUILT_IN = new Map(buildCatalogue([]).metrics.map((m) => [m.name, m.template]));
const builtIn = (name: string): string => BUILT_IN.get(name) ?? "";
const TEMPLATES = {
  host_cpu_usage: builtIn("host_cpu_usage"),
  host_ram_usage: builtIn("host_ram_usage"),
  instance_cpu_usage: builtIn("instance_cpu_usage"),
  instance_ram_usage: builtIn("instance_ram_usage"),
};

describe("renderTemplate produces Watcher's PromQL byte for byte", () => {
  // Written out in full on purpose: these are the strings Watcher's _build_prometheus_query builds.
  const cases: [
    keyof typeof TEMPLATES,
    PromqlAggregate,
    string,
    string,
    number,
    number | undefined,
    string,
  ][] = [
    [
      "host_cpu_usage",
      "avg",
      "fqdn",
      HOST,
      300,
      undefined,
      "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "max",
      "fqdn",
      HOST,
      300,
      undefined,
      "100 - (max by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "min",
      "fqdn",
      HOST,
      300,
      undefined,
      "100 - (min by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "avg",
      "custom_fqdn_label",
      HOST,
      111,
      undefined,
      "100 - (avg by (custom_fqdn_label)(rate(node_cpu_seconds_total{mode='idle',custom_fqdn_label='marios-env.controlplane.domain'}[111s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "max",
      "custom_fqdn_label",
      HOST,
      444,
      undefined,
      "100 - (max by (custom_fqdn_label)(rate(node_cpu_seconds_total{mode='idle',custom_fqdn_label='marios-env.controlplane.domain'}[444s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "min",
      "custom_fqdn_label",
      HOST,
      444,
      undefined,
      "100 - (min by (custom_fqdn_label)(rate(node_cpu_seconds_total{mode='idle',custom_fqdn_label='marios-env.controlplane.domain'}[444s])) * 100)",
    ],
    [
      "host_ram_usage",
      "avg",
      "fqdn",
      HOST,
      300,
      undefined,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - avg_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "max",
      "fqdn",
      HOST,
      300,
      undefined,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - max_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "min",
      "fqdn",
      HOST,
      300,
      undefined,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - min_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "avg",
      "custom_fqdn_label",
      HOST,
      111,
      undefined,
      "(node_memory_MemTotal_bytes{custom_fqdn_label='marios-env.controlplane.domain'} - avg_over_time(node_memory_MemAvailable_bytes{custom_fqdn_label='marios-env.controlplane.domain'}[111s])) / 1024",
    ],
    [
      "host_ram_usage",
      "max",
      "custom_fqdn_label",
      HOST,
      444,
      undefined,
      "(node_memory_MemTotal_bytes{custom_fqdn_label='marios-env.controlplane.domain'} - max_over_time(node_memory_MemAvailable_bytes{custom_fqdn_label='marios-env.controlplane.domain'}[444s])) / 1024",
    ],
    [
      "host_ram_usage",
      "min",
      "custom_fqdn_label",
      HOST,
      444,
      undefined,
      "(node_memory_MemTotal_bytes{custom_fqdn_label='marios-env.controlplane.domain'} - min_over_time(node_memory_MemAvailable_bytes{custom_fqdn_label='marios-env.controlplane.domain'}[444s])) / 1024",
    ],
    [
      "instance_cpu_usage",
      "avg",
      "resource",
      UUID,
      300,
      2,
      "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/2), 100)",
    ],
    [
      "instance_cpu_usage",
      "max",
      "resource",
      UUID,
      300,
      4,
      "clamp_max((max by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/4), 100)",
    ],
    [
      "instance_cpu_usage",
      "min",
      "resource",
      UUID,
      300,
      1,
      "clamp_max((min by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/1), 100)",
    ],
    [
      "instance_cpu_usage",
      "avg",
      "custom_uuid_label",
      UUID,
      111,
      2,
      "clamp_max((avg by (custom_uuid_label)(rate(ceilometer_cpu{custom_uuid_label='uuid-0'}[111s]))/10e+8) *(100/2), 100)",
    ],
    [
      "instance_cpu_usage",
      "max",
      "custom_uuid_label",
      UUID,
      444,
      4,
      "clamp_max((max by (custom_uuid_label)(rate(ceilometer_cpu{custom_uuid_label='uuid-0'}[444s]))/10e+8) *(100/4), 100)",
    ],
    [
      "instance_cpu_usage",
      "min",
      "custom_uuid_label",
      UUID,
      444,
      8,
      "clamp_max((min by (custom_uuid_label)(rate(ceilometer_cpu{custom_uuid_label='uuid-0'}[444s]))/10e+8) *(100/8), 100)",
    ],
    [
      "instance_ram_usage",
      "avg",
      "resource",
      UUID,
      300,
      undefined,
      "avg_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
    ],
    [
      "instance_ram_usage",
      "max",
      "resource",
      UUID,
      300,
      undefined,
      "max_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
    ],
    [
      "instance_ram_usage",
      "min",
      "resource",
      UUID,
      300,
      undefined,
      "min_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
    ],
    [
      "instance_ram_usage",
      "avg",
      "custom_uuid_label",
      UUID,
      111,
      undefined,
      "avg_over_time(ceilometer_memory_usage{custom_uuid_label='uuid-0'}[111s])",
    ],
    [
      "instance_ram_usage",
      "max",
      "custom_uuid_label",
      UUID,
      444,
      undefined,
      "max_over_time(ceilometer_memory_usage{custom_uuid_label='uuid-0'}[444s])",
    ],
    [
      "instance_ram_usage",
      "min",
      "custom_uuid_label",
      UUID,
      444,
      undefined,
      "min_over_time(ceilometer_memory_usage{custom_uuid_label='uuid-0'}[444s])",
    ],
  ];

  it.each(cases)("%s with %s by %s", (metric, agg, label, value, period, vcpus, expected) => {
    const rendered = renderTemplate(TEMPLATES[metric], {
      agg,
      label,
      value,
      period,
      ...(vcpus !== undefined && { vcpus }),
    });
    expect(rendered).toBe(expected);
  });

  it("covers every template with every aggregate and both label sets", () => {
    const combos = new Set(
      cases.map(([m, agg, label]) => `${m}/${agg}/${label.startsWith("custom") ? "c" : "d"}`),
    );
    expect(combos.size).toBe(Object.keys(TEMPLATES).length * 3 * 2);
  });
});

describe("renderTemplate refuses what it cannot fill", () => {
  it("throws when a template needs vcpus and none is given", () => {
    expect(() =>
      renderTemplate(TEMPLATES.instance_cpu_usage, {
        agg: "avg",
        label: "resource",
        value: UUID,
        period: 300,
      }),
    ).toThrow(/vcpus/);
  });

  it("throws on a placeholder it does not know", () => {
    expect(() => renderTemplate("x{{nope}}", { agg: "avg", label: "fqdn", value: "h", period: 300 })).toThrow(
      /nope/,
    );
  });

  it("ignores vcpus for templates that do not use it", () => {
    const values = { agg: "avg", label: "resource", value: UUID, period: 300 } as const;
    expect(renderTemplate(TEMPLATES.instance_ram_usage, { ...values, vcpus: 7 })).toBe(
      renderTemplate(TEMPLATES.instance_ram_usage, values),
    );
  });
});

describe("templatePlaceholders", () => {
  it("lists placeholders in order of appearance, repeats included", () => {
    expect(templatePlaceholders("{{agg}} {{{label}}} {{{matcher}}} {{label}}")).toEqual([
      "agg",
      "label",
      "matcher",
      "label",
    ]);
  });
});

describe("withSeries", () => {
  it("fills every {{series}} of a built-in template and leaves the other placeholders", () => {
    expect(withSeries("{{series}}{{{matcher}}} / {{series}}", "up")).toBe("up{{{matcher}}} / up");
  });
});

describe("{{matcher}}", () => {
  it("is the label, an equals sign and the escaped value", () => {
    expect(renderTemplate("x{{{matcher}}}", { agg: "avg", label: "fqdn", value: "a'b", period: 300 })).toBe(
      "x{fqdn='a\\'b'}",
    );
  });
});

describe("quoteLabelValue", () => {
  it.each([
    ["plain", "host.example.com", "'host.example.com'"],
    ["empty", "", "''"],
    ["single quote", "it's", "'it\\'s'"],
    ["double quote stays bare inside single quotes", 'say "hi"', "'say \"hi\"'"],
    ["backslash", "a\\b", "'a\\\\b'"],
    ["backslash before a quote", "\\'", "'\\\\\\''"],
    ["braces", "{x}", "'{x}'"],
    ["newline", "a\nb", "'a\\nb'"],
    ["carriage return", "a\rb", "'a\\rb'"],
    ["tab", "a\tb", "'a\\tb'"],
    ["NUL", "a\u0000b", "'a\\x00b'"],
    ["escape (0x1b)", "\u001b[31m", "'\\x1b[31m'"],
    ["unit separator (0x1f)", "\u001f", "'\\x1f'"],
    ["DEL (0x7f)", "\u007f", "'\\x7f'"],
    ["accented letters", "hôte-ü", "'hôte-ü'"],
    ["CJK", "主机", "'主机'"],
    ["astral plane", "host-😀", "'host-😀'"],
  ])("%s", (_name, value, expected) => {
    expect(quoteLabelValue(value)).toBe(expected);
  });

  it("leaves no raw control character in the literal", () => {
    let all = "";
    for (let c = 0; c < 0x20; c++) all += String.fromCharCode(c);
    all += "\u007f";
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to look for them
    expect(quoteLabelValue(all)).not.toMatch(/[\u0000-\u001f\u007f]/);
  });

  it.each([
    "plain.example.com",
    "'",
    "\\",
    "\\'",
    "'\"{}\\",
    "x'}[5m])) or vector(1) #",
    "'} or up{job=~'.+",
    "a\nb\rc\td\u0000e\u0007f\u000bg\u007f",
    "\\x41\\n\\'",
    "ünï-cødé 主机 😀 \u2028\u2029",
    "\u0085\u00a0\ufeff",
  ])("Prometheus reads back exactly %j", (value) => {
    const quoted = quoteLabelValue(value);
    expect(readPromqlString(quoted, 0)).toEqual({ value, end: quoted.length });
  });

  it("writes U+FFFD as an escape, because Prometheus's lexer rejects it raw as an invalid rune", () => {
    const value = "bad\ufffdname";
    const quoted = quoteLabelValue(value);
    expect(readPromqlString(quoted, 0)).toEqual({ value, end: quoted.length });
  });

  it("reads back many random strings of dangerous characters", () => {
    const alphabet = [
      "'",
      '"',
      "\\",
      "{",
      "}",
      "[",
      "]",
      "(",
      ")",
      "\n",
      "\r",
      "\t",
      "\u0000",
      "a",
      "é",
      "😀",
      " ",
    ];
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let n = 0; n < 500; n++) {
      let value = "";
      const length = next() % 20;
      for (let k = 0; k < length; k++) value += alphabet[next() % alphabet.length];
      const quoted = quoteLabelValue(value);
      expect(readPromqlString(quoted, 0)).toEqual({ value, end: quoted.length });
    }
  });
});

describe("a hostile label value cannot change the shape of a query", () => {
  const evil = "x'\"{}\\'}[1s])) or vector(1) # \\\n'";

  it.each(Object.entries(TEMPLATES))(
    "%s keeps its skeleton and carries the value intact",
    (_metric, template) => {
      const values = { agg: "avg", label: "fqdn", period: 300, vcpus: 2 } as const;
      const benign = literals(renderTemplate(template, { ...values, value: "x" }));
      const hostile = literals(renderTemplate(template, { ...values, value: evil }));
      expect(hostile.skeleton).toBe(benign.skeleton);
      expect(hostile.values).toEqual(benign.values.map((v) => (v === "x" ? evil : v)));
    },
  );
});
