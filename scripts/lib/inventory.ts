/**
 * The hosts of an inventory, read as Ansible reads it — so that fleet works from the inventory an
 * admin already keeps: Ansible's INI and YAML inventories (groups, `children`, group and host vars,
 * host ranges like `esx[01:20]`), the JSON of `ansible-inventory --list`, or a plain list of
 * `[user@]host[:port]`, one per line. Variables merge as Ansible merges them (the `all` group first,
 * then parents before children, groups of one depth by name, host vars last); `--limit` takes
 * Ansible's host patterns (`group`, `host`, `esx*`, `~regex`, `a:b` or `a,b`, `a:&b`, `a:!b`).
 *
 * What it gives up: inventory plugins and scripts (only static files), `ansible_group_priority`,
 * vaulted values (a `!vault` value is refused, naming the host), `--limit @retry-file`, and IPv6
 * addresses as INI host names with a port.
 *
 * @example
 * ```ts ignore
 * const inv = parseInventory(await Deno.readTextFile("hosts.ini"), "hosts.ini");
 * for (const h of selectHosts(inv, "esxi:!esx03")) console.log(h.name, h.vars.ansible_host);
 * ```
 * @module
 */
import { parse as parseYaml } from "@std/yaml/parse";

/** A host of the inventory, with the variables Ansible would give it. */
export interface InventoryHost {
  /** Its inventory name. */
  readonly name: string;
  /** Every group it is in, directly or through `children` (`all` included). */
  readonly groups: readonly string[];
  /** Its variables, merged from its groups' and its own. */
  readonly vars: Readonly<Record<string, unknown>>;
}

/** A parsed inventory. */
export interface Inventory {
  /** Which form the file was in. */
  readonly format: "ini" | "yaml" | "ansible-inventory-json" | "list";
  /** Hosts in the order the file names them. */
  readonly hosts: readonly InventoryHost[];
  /** Group names, `all` and `ungrouped` included. */
  readonly groups: readonly string[];
}

/** An inventory that cannot be read as any form; the message names the file and line. */
export class InventoryError extends Error {}

interface Group {
  hosts: Set<string>;
  children: string[];
  vars: Record<string, unknown>;
}

/** What the parsers build: groups and host vars, before merging. */
class Builder {
  readonly groups = new Map<string, Group>();
  readonly hostVars = new Map<string, Record<string, unknown>>();
  /** Each host's own groups (not through children), hosts in the order the file names them. */
  readonly memberOf = new Map<string, Set<string>>();

  group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, g = { hosts: new Set(), children: [], vars: {} });
    return g;
  }

  host(name: string, group: string, vars: Record<string, unknown> = {}): void {
    this.group(group).hosts.add(name);
    this.memberOf.set(name, (this.memberOf.get(name) ?? new Set()).add(group));
    this.hostVars.set(name, { ...this.hostVars.get(name), ...vars });
  }

  child(parent: string, child: string): void {
    const g = this.group(parent);
    this.group(child);
    if (!g.children.includes(child)) g.children.push(child);
  }
}

/**
 * Expands Ansible's host ranges: `esx[01:03]` is esx01, esx02, esx03 (leading zeros kept),
 * `db-[a:c]` db-a … db-c, `[1:9:2]` every second.
 * @throws {InventoryError} a range it cannot read.
 */
export function expandHostRange(pattern: string, where: string): string[] {
  const m = /^(.*?)\[([^\]:]+):([^\]:]+)(?::(\d+))?\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, from, to, stepText, tail] = m;
  const step = Number(stepText ?? 1);
  const numeric = /^\d+$/.test(from) && /^\d+$/.test(to);
  const alpha = /^[a-z]$/i.test(from) && /^[a-z]$/i.test(to);
  if ((!numeric && !alpha) || !(step >= 1)) {
    throw new InventoryError(`${where}: cannot read the range in ${pattern}`);
  }
  const [a, b] = numeric ? [Number(from), Number(to)] : [from.charCodeAt(0), to.charCodeAt(0)];
  if (a > b) throw new InventoryError(`${where}: the range in ${pattern} runs backwards`);
  const out: string[] = [];
  for (let i = a; i <= b; i += step) {
    const mid = numeric ? String(i).padStart(from.length, "0") : String.fromCharCode(i);
    out.push(...expandHostRange(`${head}${mid}${tail}`, where));
  }
  return out;
}

/** A value as Ansible's INI reader makes it: a number, a quoted string unquoted, else the text. */
function iniValue(text: string): unknown {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  if (/^-?\d*\.\d+$/.test(t)) return Number(t);
  const q = /^(['"])(.*)\1$/.exec(t);
  if (q) return q[2];
  if (t === "True" || t === "true") return true;
  if (t === "False" || t === "false") return false;
  return t;
}

/** Splits a host line into words as a shell would (quotes kept together, `#` starts a comment). */
function words(line: string, where: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote = "";
  let any = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = "";
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      any = true;
    } else if (ch === "#") break;
    else if (/\s/.test(ch)) {
      if (cur || any) out.push(cur);
      cur = "";
      any = false;
    } else cur += ch;
  }
  if (quote) throw new InventoryError(`${where}: an unclosed ${quote}`);
  if (cur || any) out.push(cur);
  return out;
}

/** Ansible's INI inventory. */
function parseIni(text: string, path: string, b: Builder): void {
  let section = "ungrouped";
  let kind: "hosts" | "vars" | "children" = "hosts";
  text.split("\n").forEach((raw, i) => {
    const where = `${path}:${i + 1}`;
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const [name, type = "hosts"] = header[1].split(":");
      if (!/^[\w.-]+$/.test(name) || !["hosts", "vars", "children"].includes(type)) {
        throw new InventoryError(`${where}: not a section Ansible knows: ${line}`);
      }
      [section, kind] = [name, type as typeof kind];
      b.group(section);
      return;
    }
    if (kind === "vars") {
      const eq = line.indexOf("=");
      if (eq < 1) throw new InventoryError(`${where}: expected key=value in [${section}:vars], got ${line}`);
      b.group(section).vars[line.slice(0, eq).trim()] = iniValue(line.slice(eq + 1));
    } else if (kind === "children") {
      b.child(section, words(line, where)[0]);
    } else {
      const [first, ...rest] = words(line, where);
      const vars: Record<string, unknown> = {};
      for (const w of rest) {
        const eq = w.indexOf("=");
        if (eq < 1) throw new InventoryError(`${where}: expected key=value after the host, got ${w}`);
        vars[w.slice(0, eq)] = iniValue(w.slice(eq + 1));
      }
      const port = /^([^:\s]+):(\d+)$/.exec(first);
      if (port) vars.ansible_port ??= Number(port[2]);
      for (const name of expandHostRange(port ? port[1] : first, where)) b.host(name, section, vars);
    }
  });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Ansible's YAML inventory (and the same structure written as JSON): group → hosts, vars, children. */
function parseYamlGroups(doc: Record<string, unknown>, path: string, b: Builder): void {
  const visit = (name: string, body: unknown, parent?: string) => {
    if (parent) b.child(parent, name);
    else b.group(name);
    if (body === null || body === undefined) return;
    if (!isMap(body)) throw new InventoryError(`${path}: group ${name} is not a mapping`);
    for (const key of Object.keys(body)) {
      if (!["hosts", "vars", "children"].includes(key)) {
        throw new InventoryError(`${path}: group ${name} has ${key}; a group has hosts, vars and children`);
      }
    }
    if (body.vars !== undefined && body.vars !== null) {
      if (!isMap(body.vars)) throw new InventoryError(`${path}: ${name}'s vars is not a mapping`);
      Object.assign(b.group(name).vars, body.vars);
    }
    const hosts = body.hosts ?? {};
    if (!isMap(hosts)) throw new InventoryError(`${path}: ${name}'s hosts is not a mapping of host names`);
    for (const [pattern, vars] of Object.entries(hosts)) {
      if (vars !== null && !isMap(vars)) {
        throw new InventoryError(`${path}: host ${pattern}'s vars are not a mapping`);
      }
      for (const h of expandHostRange(pattern, path)) b.host(h, name, vars ?? {});
    }
    const children = body.children ?? {};
    if (!isMap(children)) throw new InventoryError(`${path}: ${name}'s children is not a mapping of groups`);
    for (const [child, cbody] of Object.entries(children)) visit(child, cbody, name);
  };
  for (const [name, body] of Object.entries(doc)) visit(name, body);
}

/** The JSON `ansible-inventory --list` prints: groups with host lists, `_meta.hostvars`. */
function parseListJson(doc: Record<string, unknown>, path: string, b: Builder): void {
  const meta = isMap(doc._meta) && isMap(doc._meta.hostvars) ? doc._meta.hostvars : {};
  for (const [name, body] of Object.entries(doc)) {
    if (name === "_meta") continue;
    if (!isMap(body)) throw new InventoryError(`${path}: group ${name} is not an object`);
    const g = b.group(name);
    if (isMap(body.vars)) Object.assign(g.vars, body.vars);
    for (const h of Array.isArray(body.hosts) ? body.hosts : []) b.host(String(h), name);
    for (const c of Array.isArray(body.children) ? body.children : []) b.child(name, String(c));
  }
  for (const [h, vars] of Object.entries(meta)) {
    if (isMap(vars)) b.hostVars.set(h, { ...b.hostVars.get(h), ...vars });
  }
}

/**
 * The plain list fleet always read: `[user@]host[:port]` per line, `#` comments — every line a host
 * of its own, as before (a host named twice is worked on twice).
 */
function parseList(text: string, path: string): Inventory {
  const hosts: InventoryHost[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    if (/\s/.test(line)) throw new InventoryError(`${path}:${i + 1}: one host per line, got "${line}"`);
    hosts.push({ name: line, groups: ["all", "ungrouped"], vars: {} });
  });
  return { format: "list", hosts, groups: ["all", "ungrouped"] };
}

/**
 * Which form a file is in: JSON, YAML (by its name or its `all:`), INI (a section or a var), or a
 * list — with the document, when telling meant parsing it (JSON).
 */
function formatOf(text: string, path: string): { format: Inventory["format"]; json?: unknown } {
  const t = text.trimStart();
  if (t.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(t);
    } catch (e) {
      throw new InventoryError(`${path}: not JSON: ${(e as Error).message}`);
    }
    const list = isMap(json) &&
      ("_meta" in json || Object.values(json).some((g) => isMap(g) && Array.isArray(g.hosts)));
    return { format: list ? "ansible-inventory-json" : "yaml", json };
  }
  if (
    /\.ya?ml$/i.test(path) ||
    /^[\w.-]+:\s*$/m.test(t.split("\n").find((l) => l.trim() && !l.startsWith("#")) ?? "")
  ) {
    return { format: "yaml" };
  }
  const lines = text.split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#") && !l.startsWith(";")
  );
  return { format: lines.some((l) => /^\[.+\]$/.test(l) || /\s\S+=/.test(l)) ? "ini" : "list" };
}

/** The depth of each group below `all` (`all` 0), for merging vars parents-first. */
function depths(b: Builder): Map<string, number> {
  const depth = new Map<string, number>([["all", 0]]);
  const walk = (name: string, d: number, seen: Set<string>) => {
    if (seen.has(name)) {
      throw new InventoryError(`group ${name} is its own descendant (children form a cycle)`);
    }
    depth.set(name, Math.max(depth.get(name) ?? 0, d));
    for (const c of b.groups.get(name)?.children ?? []) walk(c, d + 1, new Set([...seen, name]));
  };
  for (const name of b.groups.keys()) if (name !== "all") walk(name, 1, new Set());
  return depth;
}

/** Groups, hosts and merged vars, as Ansible builds them. */
function finish(b: Builder, format: Inventory["format"]): Inventory {
  b.group("all");
  b.group("ungrouped");
  const depth = depths(b);
  const parents = new Map<string, Set<string>>();
  for (const [name, g] of b.groups) {
    for (const c of g.children) parents.set(c, new Set([...parents.get(c) ?? [], name]));
  }
  const ancestors = (group: string, out = new Set<string>()): Set<string> => {
    out.add(group);
    for (const p of parents.get(group) ?? []) if (!out.has(p)) ancestors(p, out);
    return out;
  };
  const hosts = [...b.memberOf].map(([name, direct]) => {
    const groups = new Set<string>(["all"]);
    for (const d of direct) for (const a of ancestors(d)) groups.add(a);
    if (groups.size === 1 || (groups.size === 2 && groups.has("ungrouped"))) groups.add("ungrouped");
    else groups.delete("ungrouped");
    const sorted = [...groups].sort((x, y) => (depth.get(x)! - depth.get(y)!) || x.localeCompare(y));
    const vars: Record<string, unknown> = {};
    for (const g of sorted) Object.assign(vars, b.groups.get(g)!.vars);
    Object.assign(vars, b.hostVars.get(name));
    for (const [k, v] of Object.entries(vars)) {
      if (isMap(v) && "__ansible_vault" in v) {
        throw new InventoryError(`host ${name}: ${k} is vaulted; fleet cannot decrypt it`);
      }
    }
    return { name, groups: sorted, vars };
  });
  return { format, hosts, groups: [...b.groups.keys()] };
}

/**
 * An inventory's hosts, from its text (`path` names it in messages and tells YAML by its name).
 * @throws {InventoryError} what cannot be read, naming the file (and line, for INI).
 */
export function parseInventory(text: string, path: string): Inventory {
  const b = new Builder();
  const { format, json } = formatOf(text, path);
  if (format === "ini") parseIni(text, path, b);
  else if (format !== "list") {
    const vaulted = format === "yaml" && json === undefined ? /^.*!vault\b/m.exec(text) : null;
    if (vaulted) {
      const line = text.slice(0, vaulted.index).split("\n").length;
      throw new InventoryError(
        `${path}:${line}: a vaulted value (!vault); fleet cannot decrypt it — write the inventory out with ` +
          "ansible-inventory --list --vault-password-file … (or keep secrets out of it)",
      );
    }
    let doc: unknown;
    try {
      doc = json ?? parseYaml(text);
    } catch (e) {
      throw new InventoryError(`${path}: not YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    if (!isMap(doc)) throw new InventoryError(`${path}: expected a mapping of groups at the top`);
    if (format === "yaml") parseYamlGroups(doc, path, b);
    else parseListJson(doc, path, b);
  }
  const inv = format === "list" ? parseList(text, path) : finish(b, format);
  if (inv.hosts.length === 0) throw new InventoryError(`${path}: no hosts`);
  return inv;
}

/** One pattern term (a group, a host, a glob, a `~regex`) as a test of a host, made once per term. */
function matcher(term: string): (host: InventoryHost) => boolean {
  if (term === "all" || term === "*") return () => true;
  const glob = /[*?[]/.test(term) && !term.startsWith("~");
  if (!term.startsWith("~") && !glob) return (h) => h.name === term || h.groups.includes(term);
  const re = glob
    ? new RegExp(`^${term.replace(/[.+^${}()|\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`)
    : new RegExp(term.slice(1));
  return (h) => re.test(h.name) || h.groups.some((g) => re.test(g));
}

/**
 * The hosts a pattern selects, in inventory order (no pattern: all): terms separated by `:` or `,`;
 * a plain term adds, `&term` keeps only hosts also in it, `!term` takes out.
 * @throws {InventoryError} a term that names no group and no host (Ansible warns and matches none;
 * for a change to a fleet that is more likely a typo).
 */
export function selectHosts(inv: Inventory, pattern?: string): InventoryHost[] {
  if (!pattern) return [...inv.hosts];
  const terms = pattern.split(/[,:]/).map((t) => t.trim()).filter(Boolean);
  const plain = terms.filter((t) => !t.startsWith("&") && !t.startsWith("!"));
  const known = (t: string) =>
    /[*?~[]/.test(t) || t === "all" || inv.groups.includes(t) || inv.hosts.some((h) => h.name === t);
  const unknown = terms.map((t) => t.replace(/^[&!]/, "")).filter((t) => !known(t));
  if (unknown.length) {
    throw new InventoryError(
      `--limit: ${unknown.join(", ")} names no group or host (groups: ${inv.groups.join(", ")})`,
    );
  }
  const add = plain.map(matcher);
  const keep = terms.filter((t) => t.startsWith("&")).map((t) => matcher(t.slice(1)));
  const drop = terms.filter((t) => t.startsWith("!")).map((t) => matcher(t.slice(1)));
  return inv.hosts.filter((h) =>
    (add.length === 0 || add.some((m) => m(h))) && keep.every((m) => m(h)) && !drop.some((m) => m(h))
  );
}
