/** One value read from an INI file, with where it came from for error messages. */
export interface IniValue {
  readonly value: string;
  readonly source: string;
}

/** section → option → value; later files and later lines override earlier ones, as oslo.config does. */
export type IniSections = Map<string, Map<string, IniValue>>;

/**
 * Parses the oslo.config dialect of INI that watcher.conf is written in: `[section]`, `key = value`
 * (or `key: value`), `#`/`;` comment lines, indented continuation lines, and values optionally
 * wrapped in matching quotes.
 */
export function parseIni(text: string, fileName: string, into: IniSections = new Map()): IniSections {
  let section: Map<string, IniValue> | undefined;
  let last: { options: Map<string, IniValue>; key: string } | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const where = `${fileName}:${index + 1}`;
    if (raw.trim() === "" || /^\s*[#;]/.test(raw)) {
      last = undefined;
      return;
    }
    if (/^\s/.test(raw) && last) {
      const previous = last.options.get(last.key);
      const joined = `${previous?.value ?? ""}\n${raw.trim()}`;
      last.options.set(last.key, { value: joined, source: previous?.source ?? where });
      return;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(raw.trim());
    if (header?.[1] !== undefined) {
      const name = header[1].trim();
      section = into.get(name) ?? new Map();
      into.set(name, section);
      last = undefined;
      return;
    }
    const assignment = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(raw.trim());
    if (!assignment || assignment[1] === undefined) {
      throw new SyntaxError(`${where}: expected "[section]" or "option = value"`);
    }
    if (!section) {
      throw new SyntaxError(`${where}: option "${assignment[1]}" appears before any [section]`);
    }
    section.set(assignment[1], { value: unquote(assignment[2] ?? ""), source: where });
    last = { options: section, key: assignment[1] };
  });
  return into;
}

function unquote(value: string): string {
  const first = value[0];
  if (value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first)) {
    return value.slice(1, -1);
  }
  return value;
}
