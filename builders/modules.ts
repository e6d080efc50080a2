// Kernel-module selection for the initrd: parse depmod's modules.dep, and resolve
// the template's module names to the files to ship plus their dependency closure.
// Pure: text in, plan out.

/** depmod treats '-' and '_' in module names as the same character. */
export function moduleName(pathOrName: string): string {
  const base = pathOrName.split('/').pop() ?? pathOrName;
  return base.replace(/\.ko(\.(gz|xz|zst))?$/, '').replace(/-/g, '_');
}

export interface ModuleInfo {
  name: string;
  /** Path relative to /lib/modules/<kver>/, as written in modules.dep. */
  path: string;
  /** Direct dependencies by name, in modules.dep order. */
  deps: string[];
}

/** Parse modules.dep: one `path: dep dep ...` line per module. */
export function parseModulesDep(text: string): Map<string, ModuleInfo> {
  const out = new Map<string, ModuleInfo>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`modules.dep line ${i + 1}: missing ':' in '${line}'`);
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    out.set(moduleName(path), { name: moduleName(path), path, deps });
  });
  return out;
}

/** Parse modules.builtin (one path per line) into module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim()).filter(Boolean).map(moduleName));
}

export interface ModulePlan {
  /** Every module to ship, in a valid load order (dependencies first). */
  modules: ModuleInfo[];
  /** Requested names that are built into the kernel (nothing to ship). */
  builtin: string[];
  /** Requested optional names this kernel does not have. */
  missingOptional: string[];
}

export class MissingModulesError extends Error {
  constructor(readonly missing: string[]) {
    super(`kernel has no module named ${missing.map((m) => `'${m}'`).join(', ')} (neither in modules.dep nor modules.builtin)`);
    this.name = 'MissingModulesError';
  }
}

/**
 * Resolve requested modules to the closure to ship. A required name that the kernel
 * neither has as a module nor as a built-in is an error; an optional one is reported.
 */
export function resolveModules(
  dep: Map<string, ModuleInfo>,
  builtin: Set<string>,
  required: string[],
  optional: string[] = [],
): ModulePlan {
  const ordered: ModuleInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`modules.dep has a dependency cycle: ${[...chain, name].join(' -> ')}`);
    const info = dep.get(name);
    if (!info) {
      if (builtin.has(name)) return;
      throw new Error(`modules.dep: '${chain.at(-1)}' depends on '${name}', which is not listed`);
    }
    state.set(name, 'visiting');
    for (const d of info.deps) visit(d, [...chain, name]);
    state.set(name, 'done');
    ordered.push(info);
  };
  const builtinHits: string[] = [];
  const missing: string[] = [];
  const missingOptional: string[] = [];
  const want = (names: string[], isRequired: boolean) => {
    for (const raw of names) {
      const name = moduleName(raw);
      if (dep.has(name)) visit(name, []);
      else if (builtin.has(name)) builtinHits.push(name);
      else (isRequired ? missing : missingOptional).push(name);
    }
  };
  want(required, true);
  want(optional, false);
  if (missing.length) throw new MissingModulesError(missing);
  return { modules: ordered, builtin: [...new Set(builtinHits)].sort(), missingOptional };
}

/** modules.dep text for just the shipped modules (paths as they are in the initrd). */
export function renderModulesDep(modules: ModuleInfo[], pathOf: (m: ModuleInfo) => string): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const closure = (m: ModuleInfo, seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const d of m.deps) {
      const dm = byName.get(d);
      if (!dm || seen.has(d)) continue;
      seen.add(d);
      out.push(pathOf(dm), ...closure(dm, seen));
    }
    return out;
  };
  return modules
    .map((m) => `${pathOf(m)}:${closure(m).map((p) => ` ${p}`).join('')}\n`)
    .sort()
    .join('');
}

/** Keep only the modules.alias lines whose module is shipped. */
export function filterModulesAlias(text: string, shipped: Set<string>): string {
  return text
    .split('\n')
    .filter((line) => {
      const m = /^alias\s+\S+\s+(\S+)\s*$/.exec(line);
      return m !== null && shipped.has(moduleName(m[1]!));
    })
    .map((l) => `${l}\n`)
    .join('');
}
