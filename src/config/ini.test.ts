import { describe, expect, it } from "vitest";
import { type IniSections, parseIni } from "./ini.js";

/** section → option → value, without the sources. */
function values(sections: IniSections): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, options] of sections) {
    out[name] = Object.fromEntries([...options].map(([key, v]) => [key, v.value]));
  }
  return out;
}

function parse(text: string) {
  return values(parseIni(text, "watcher.conf"));
}

describe("parseIni", () => {
  it("reads sections and `option = value` lines, trimming the spaces around them", () => {
    expect(
      parse("[prometheus_client]\nhost = prom.example.com\n  \nport=9091\nfqdn_label   =   fqdn  \n"),
    ).toEqual({
      prometheus_client: { host: "prom.example.com", port: "9091", fqdn_label: "fqdn" },
    });
  });

  it("accepts `option: value`", () => {
    expect(parse("[s]\nhost: prom\n")).toEqual({ s: { host: "prom" } });
  });

  it("splits at the first = or :, keeping the rest of the line as the value", () => {
    expect(parse("[s]\nauth_url = http://keystone:5000/v3\nurl: http://a=b\nexpr = a=b\n")).toEqual({
      s: { auth_url: "http://keystone:5000/v3", url: "http://a=b", expr: "a=b" },
    });
  });

  it("keeps an empty value", () => {
    expect(parse("[s]\nregion_name =\n")).toEqual({ s: { region_name: "" } });
  });

  it("skips # and ; comment lines", () => {
    expect(parse("# top\n; also\n[s]\n# host = wrong\n   ; port = 1\nhost = right\n")).toEqual({
      s: { host: "right" },
    });
  });

  it("does not treat # inside a value as a comment", () => {
    expect(parse("[s]\npassword = pa#ss;word\n")).toEqual({ s: { password: "pa#ss;word" } });
  });

  it("joins indented continuation lines to the value with newlines", () => {
    expect(parse("[s]\ndatasources = prometheus,\n    gnocchi\n\tgrafana\nnext = x\n")).toEqual({
      s: { datasources: "prometheus,\ngnocchi\ngrafana", next: "x" },
    });
  });

  it("ends a value at a blank line", () => {
    expect(parse("[s]\na = 1\n\nb = 2\n")).toEqual({ s: { a: "1", b: "2" } });
  });

  it("strips one pair of matching quotes", () => {
    expect(parse(`[s]\na = "quoted value"\nb = 'single'\nc = "mismatched'\nd = "in"side"\ne = ""\n`)).toEqual(
      {
        s: { a: "quoted value", b: "single", c: "\"mismatched'", d: 'in"side', e: "" },
      },
    );
  });

  it("keeps [DEFAULT] as a section of its own; its options do not show up elsewhere", () => {
    expect(parse("[DEFAULT]\ndebug = true\nhost = default-host\n[prometheus_client]\nport = 9090\n")).toEqual(
      {
        DEFAULT: { debug: "true", host: "default-host" },
        prometheus_client: { port: "9090" },
      },
    );
  });

  it("lets a later line win and merges a section that appears twice", () => {
    expect(parse("[s]\na = 1\nb = 1\n[t]\nx = 1\n[s]\na = 2\n")).toEqual({
      s: { a: "2", b: "1" },
      t: { x: "1" },
    });
  });

  it("records file:line as the source of each value, the first line for continued ones", () => {
    const sections = parseIni("[s]\n\na = 1\nb = x\n  y\n", "/etc/watcher/watcher.conf");
    expect(sections.get("s")?.get("a")?.source).toBe("/etc/watcher/watcher.conf:3");
    expect(sections.get("s")?.get("b")).toEqual({ value: "x\ny", source: "/etc/watcher/watcher.conf:4" });
  });

  it("reads CRLF line ends", () => {
    expect(parse("[s]\r\na = 1\r\nb = 2\r\n")).toEqual({ s: { a: "1", b: "2" } });
  });

  it("adds a second file on top of the first, the later file winning", () => {
    const sections = parseIni("[s]\na = 1\nb = 1\n", "first.conf");
    parseIni("[s]\na = 2\n[t]\nc = 3\n", "second.conf", sections);
    expect(values(sections)).toEqual({ s: { a: "2", b: "1" }, t: { c: "3" } });
    expect(sections.get("s")?.get("a")?.source).toBe("second.conf:2");
    expect(sections.get("s")?.get("b")?.source).toBe("first.conf:3");
  });

  it("rejects an option before any section, naming file and line", () => {
    expect(() => parseIni("# comment\n\nhost = x\n[s]\n", "watcher.conf")).toThrow(SyntaxError);
    expect(() => parseIni("# comment\n\nhost = x\n[s]\n", "watcher.conf")).toThrow(
      /^watcher\.conf:3: .*host/,
    );
  });

  it.each([
    ["a line that is neither a section nor an assignment", "[s]\njust words\n", 2],
    ["an empty section name", "[s]\na = 1\n[]\n", 3],
    ["a line starting with =", "[s]\n= value\n", 2],
    ["a section header with trailing text", "[s] trailing\n", 1],
  ])("rejects %s, naming file and line", (_name, text, line) => {
    expect(() => parseIni(text, "x.conf")).toThrow(SyntaxError);
    expect(() => parseIni(text, "x.conf")).toThrow(new RegExp(`^x\\.conf:${line}: `));
  });

  it("does not echo the offending line, which might hold a secret", () => {
    expect(() => parseIni("[s]\nhunter2-secret\n", "x.conf")).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("hunter2-secret") }),
    );
  });
});
