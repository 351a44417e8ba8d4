// The parts of infra/ the infra tests reason about: its modules read with the HCL reader, lookups
// of resources, locals and variable defaults, and a tiny evaluator for the name templates that
// per-type resources use ("${var.topic_prefix}${t}-worker"). No terraform, no provider.

import { spawnSync } from 'node:child_process';
import { globSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModule, type HclBlock } from './hcl.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const INFRA = join(REPO, 'infra');
export const MODULES = {
  eventTypes: join(INFRA, 'modules', 'event-types'),
  hourglass: join(INFRA, 'modules', 'hourglass'),
  cloudRunService: join(INFRA, 'modules', 'cloud-run-service'),
} as const;
export const EXAMPLE_ENV = join(INFRA, 'envs', 'example');

/** The environment of every terraform command the tests run: no user CLI config, no update check. */
export const TERRAFORM_ENV: NodeJS.ProcessEnv = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };

/** Why the terraform CLI cannot be used, or undefined when it can: a test that needs it fails with this, never skips. */
export function terraformMissing(): string | undefined {
  const r = spawnSync('terraform', ['version'], { env: TERRAFORM_ENV, encoding: 'utf8' });
  if (r.status === 0) return undefined;
  return `terraform is not usable (${r.error?.message ?? r.stderr.trim()}): the infra tests need Terraform >= 1.9 on PATH (scripts/setup.sh says so when it is missing)`;
}

export interface Module {
  readonly dir: string;
  readonly blocks: readonly HclBlock[];
}

export function loadModule(dir: string): Module {
  return { dir, blocks: readModule(dir) };
}

/** `resource "<type>" "<name>"` blocks, optionally of one type. */
export function resources(mod: Module, type?: string): HclBlock[] {
  return mod.blocks.filter((b) => b.type === 'resource' && (type === undefined || b.labels[0] === type));
}

export function address(block: HclBlock): string {
  return `${block.labels[0]}.${block.labels[1]}`;
}

export function attr(block: HclBlock, name: string): string | undefined {
  return block.attributes.get(name)?.expr;
}

export function nested(block: HclBlock, type: string): HclBlock[] {
  return block.blocks.filter((b) => b.type === type);
}

/** Every expression in a block and its nested blocks, for "does this block mention X" checks. */
export function exprs(block: HclBlock): string[] {
  return [...[...block.attributes.values()].map((a) => a.expr), ...block.blocks.flatMap(exprs)];
}

/** Every `locals` attribute of the module, by name. */
export function locals(mod: Module): Map<string, string> {
  const out = new Map<string, string>();
  for (const b of mod.blocks.filter((x) => x.type === 'locals')) for (const [k, a] of b.attributes) out.set(k, a.expr);
  return out;
}

/** A variable's default as a string literal, or undefined when it has none or it is not a plain string. */
export function stringDefault(mod: Module, name: string): string | undefined {
  const v = mod.blocks.find((b) => b.type === 'variable' && b.labels[0] === name);
  const d = v ? attr(v, 'default') : undefined;
  return d !== undefined && /^"[^"$%]*"$/.test(d) ? (JSON.parse(d) as string) : undefined;
}

/** The type names Terraform's fileset(dir, pattern) + dirname() yields: folders holding a match. */
export function typesByFileset(schemasDir: string, pattern: string): string[] {
  const files = globSync(pattern, { cwd: schemasDir }).filter((f) => statSync(join(schemasDir, f)).isFile());
  return [...new Set(files.map((f) => dirname(f)))].sort();
}

/** Strips the outer quotes of `"..."`, or returns undefined when `expr` is not a single template. */
export function templateBody(expr: string): string | undefined {
  if (!expr.startsWith('"') || !expr.endsWith('"')) return undefined;
  // A single template: the closing quote of the first string is the last character.
  let depth = 0;
  for (let i = 1; i < expr.length - 1; i++) {
    const c = expr[i];
    if (c === '\\') i++;
    else if (c === '{' && (expr[i - 1] === '$' || expr[i - 1] === '%' || depth > 0)) depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === '"' && depth === 0) return undefined;
  }
  return expr.slice(1, -1);
}

/**
 * Evaluates a name expression of a per-type resource for one type: string templates over
 * `var.X` (its string default), `each.key`, `local.X` holding a template, and `local.X[each.key]` where local.X is
 * `{ for t in keys(local.types) : t => "<template>" }`, and the references given in `refs`
 * (e.g. the bucket's name). Throws on anything else, so a name the test cannot follow is a
 * failure, not a pass.
 */
export function evalName(mod: Module, expr: string, type: string, refs: Readonly<Record<string, string>> = {}, loopVar = 'each.key'): string {
  const e = expr.trim();
  const ref = refs[e];
  if (ref !== undefined) return ref;
  const local = /^local\.(\w+)\[each\.key\]$/.exec(e);
  if (local) {
    const def = locals(mod).get(local[1]!);
    const m = def === undefined ? null : /^\{\s*for\s+(\w+)\s+in\s+keys\(local\.types\)\s*:\s*(\w+)\s*=>\s*(".*")\s*\}$/s.exec(def);
    if (!m || m[1] !== m[2]) throw new Error(`local.${local[1]} is not { for t in keys(local.types) : t => "…" }`);
    return evalName(mod, m[3]!, type, refs, m[1]!);
  }
  if (e === loopVar || e === 'each.key') return type;
  const plain = /^local\.(\w+)$/.exec(e);
  if (plain) {
    const def = locals(mod).get(plain[1]!);
    if (def === undefined || templateBody(def) === undefined) throw new Error(`local.${plain[1]} is not a string template`);
    return evalName(mod, def, type, refs, loopVar);
  }
  const v = /^var\.(\w+)$/.exec(e);
  if (v) {
    const d = stringDefault(mod, v[1]!);
    if (d === undefined) throw new Error(`var.${v[1]} has no string default`);
    return d;
  }
  const body = templateBody(e);
  if (body === undefined) throw new Error(`cannot evaluate ${e}`);
  let out = '';
  for (let i = 0; i < body.length; ) {
    if (body.startsWith('${', i)) {
      let depth = 1;
      let j = i + 2;
      for (; j < body.length && depth > 0; j++) {
        if (body[j] === '{') depth++;
        else if (body[j] === '}') depth--;
      }
      out += evalName(mod, body.slice(i + 2, j - 1), type, refs, loopVar);
      i = j;
    } else {
      out += body[i];
      i++;
    }
  }
  return out;
}
