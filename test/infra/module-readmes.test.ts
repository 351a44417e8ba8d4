// The module READMEs (infra/modules/*/README.md) against the modules they document. The tables are
// written by hand in terraform-docs' layout (as terraform-google-modules publish theirs), so this
// test is what keeps them true: every variable in "## Inputs" with the HCL's description, type and
// default, Required = yes exactly when it has no default; every output in "## Outputs" with its
// description; nothing listed that the module lacks; "## Requirements" with the module's Terraform
// and provider versions; and a "## Usage" example that sets only variables that exist (every
// required one) and calls the module as the repository does. Reads HCL with the HCL reader; no
// terraform, no provider.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { parseHcl, type HclBlock } from './hcl.ts';
import { EXAMPLE_ENV, INFRA, MODULES, attr, loadModule } from './terraform-config.ts';

const MODULES_DIR = join(INFRA, 'modules');

/** Where the repository calls each module: the Usage example must be consistent with that call. */
const CALLERS: Readonly<Record<string, { readonly dir: string; readonly module: string }>> = {
  hourglass: { dir: EXAMPLE_ENV, module: 'hourglass' },
  'cloud-run-service': { dir: MODULES.hourglass, module: 'service' },
  'event-types': { dir: MODULES.hourglass, module: 'event_types' },
};

/** Arguments of a module block that are not input variables. */
const META_ARGUMENTS = new Set(['source', 'version', 'providers', 'depends_on', 'for_each', 'count']);

// --- HCL -------------------------------------------------------------------------------------------

/** The text of an HCL string literal or heredoc (no interpolation): what Terraform shows as a description. */
function hclString(expr: string): string {
  const heredoc = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)\r?\n([\s\S]*?)\r?\n[ \t]*\2[ \t]*$/.exec(expr);
  if (heredoc) {
    const lines = heredoc[3]!.split(/\r?\n/);
    if (heredoc[1] !== '-') return lines.join('\n');
    const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)![0].length));
    return lines.map((l) => l.slice(indent)).join('\n');
  }
  if (!/^"(?:[^"\\\n]|\\.)*"$/.test(expr)) throw new Error(`not a string literal: ${expr}`);
  const body = expr.slice(1, -1);
  if (/[$%]\{/.test(body.replace(/\\.|\$\$\{|%%\{/g, ''))) throw new Error(`a template, not a literal: ${expr}`);
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };
  return body.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|([$%])\2\{/g, (m, esc: string | undefined, tpl: string | undefined) => {
    if (tpl !== undefined) return `${tpl}{`;
    if (esc!.length > 1) return String.fromCodePoint(parseInt(esc!.slice(1), 16));
    const c = escapes[esc!];
    if (c === undefined) throw new Error(`unknown escape ${m} in ${expr}`);
    return c;
  });
}

interface Variable {
  readonly name: string;
  readonly description: string;
  /** The type expression as written, or `any` when the variable declares none. */
  readonly type: string;
  /** The default expression as written; undefined when the variable is required. */
  readonly default: string | undefined;
}

function variables(blocks: readonly HclBlock[]): Variable[] {
  return blocks
    .filter((b) => b.type === 'variable')
    .map((b) => {
      const d = attr(b, 'description');
      return { name: b.labels[0]!, description: d === undefined ? '' : hclString(d), type: attr(b, 'type') ?? 'any', default: attr(b, 'default') };
    });
}

function outputs(blocks: readonly HclBlock[]): { name: string; description: string }[] {
  return blocks
    .filter((b) => b.type === 'output')
    .map((b) => {
      const d = attr(b, 'description');
      return { name: b.labels[0]!, description: d === undefined ? '' : hclString(d) };
    });
}

/** `terraform` and every required provider's local name, with the version constraint the module declares. */
function requirements(blocks: readonly HclBlock[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of blocks.filter((b) => b.type === 'terraform')) {
    const v = attr(t, 'required_version');
    if (v !== undefined) out.set('terraform', hclString(v));
    for (const rp of t.blocks.filter((b) => b.type === 'required_providers')) {
      for (const [name, a] of rp.attributes) {
        const m = /\bversion\s*=\s*("(?:[^"\\]|\\.)*")/.exec(a.expr);
        out.set(name, m ? hclString(m[1]!) : '');
      }
    }
  }
  return out;
}

// --- Markdown ----------------------------------------------------------------------------------------

/** Whitespace runs (newlines, alignment padding) as one space. */
const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', '#39': "'", '#124': '|' };
const decodeEntities = (s: string): string => s.replace(/&(lt|gt|amp|quot|#39|#124);/g, (_, e: string) => ENTITIES[e]!);

/** A table cell's text as GitHub renders it: <br> as a space, backslash escapes and entities undone. */
function cellText(cell: string): string {
  return norm(decodeEntities(cell.replace(/<br\s*\/?>/gi, ' ').replace(/\\([!-/:-@[-`{-~])/g, '$1')));
}

/** A Type or Default cell: `code` (only \| is an escape there), <pre>…</pre> with <br> line breaks, or n/a. */
function codeCell(cell: string): string {
  const code = /^`([^`]*)`$/.exec(cell);
  if (code) return norm(code[1]!.replace(/\\\|/g, '|'));
  const pre = /^<pre>([\s\S]*)<\/pre>$/.exec(cell);
  if (pre) return norm(decodeEntities(pre[1]!.replace(/<br\s*\/?>/gi, '\n').replace(/\\([!-/:-@[-`{-~])/g, '$1')));
  return cellText(cell);
}

/** Raw HTML that GitHub would swallow: a `<word>` in a description renders as nothing unless escaped (&lt;). */
const swallowedTag = (cell: string): string | undefined => /<\/?(?!br\b|pre\b)[A-Za-z][^>]*>/i.exec(cell)?.[0];

/** The lines of a `## <heading>` section, up to the next heading of level 1 or 2. */
function section(md: string, heading: string): string[] | undefined {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start === -1) return undefined;
  const end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** Splits a table row on the pipes that are not escaped. */
function splitRow(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim());
}

interface Table {
  readonly rows: readonly Readonly<Record<string, string>>[];
  readonly problems: readonly string[];
}

/** The first table of a `## <heading>` section, its rows keyed by the expected column names. */
function table(md: string, heading: string, columns: readonly string[]): Table {
  const lines = section(md, heading);
  if (lines === undefined) return { rows: [], problems: [`no "## ${heading}" section`] };
  const start = lines.findIndex((l) => l.trim().startsWith('|'));
  if (start === -1) return { rows: [], problems: [`"## ${heading}" has no table`] };
  const header = splitRow(lines[start]!);
  if (header.join(' | ') !== columns.join(' | ')) return { rows: [], problems: [`"## ${heading}": columns are | ${header.join(' | ')} |, expected | ${columns.join(' | ')} |`] };
  const problems: string[] = [];
  if (!/^\|(\s*:?-+:?\s*\|)+$/.test(lines[start + 1]?.trim() ?? '')) problems.push(`"## ${heading}": no delimiter row under the header`);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = splitRow(line);
    if (cells.length !== columns.length) {
      problems.push(`"## ${heading}": ${cells.length} cells instead of ${columns.length} in ${line.trim()}`);
      continue;
    }
    rows.push(Object.fromEntries(columns.map((c, i) => [c, cells[i]!])));
  }
  return { rows, problems };
}

/** Rows by their (unescaped) Name, reporting a name listed twice. */
function byName(t: Table, heading: string, problems: string[]): Map<string, Readonly<Record<string, string>>> {
  const out = new Map<string, Readonly<Record<string, string>>>();
  for (const row of t.rows) {
    const name = cellText(row.Name!);
    if (out.has(name)) problems.push(`${heading}: ${name} listed twice`);
    out.set(name, row);
  }
  return out;
}

// --- Checks: each returns what is wrong, [] when the README is true to the module ---------------------

function inputProblems(blocks: readonly HclBlock[], md: string): string[] {
  const t = table(md, 'Inputs', ['Name', 'Description', 'Type', 'Default', 'Required']);
  const problems = [...t.problems];
  const rows = byName(t, 'Inputs', problems);
  const vars = variables(blocks);
  for (const v of vars) {
    const row = rows.get(v.name);
    if (row === undefined) {
      problems.push(`Inputs: variable "${v.name}" is not listed`);
      continue;
    }
    if (cellText(row.Description!) !== norm(v.description))
      problems.push(`Inputs: ${v.name}: description differs from the HCL\n    README: ${cellText(row.Description!)}\n    HCL:    ${norm(v.description)}`);
    const tag = swallowedTag(row.Description!);
    if (tag !== undefined) problems.push(`Inputs: ${v.name}: ${tag} in the description renders as nothing on GitHub (write &lt;)`);
    if (codeCell(row.Type!) !== norm(v.type)) problems.push(`Inputs: ${v.name}: type ${codeCell(row.Type!)}, the HCL says ${norm(v.type)}`);
    const required = cellText(row.Required!);
    if (required !== 'yes' && required !== 'no') problems.push(`Inputs: ${v.name}: Required is "${required}", not yes or no`);
    else if ((required === 'yes') !== (v.default === undefined))
      problems.push(`Inputs: ${v.name}: Required = ${required}, but the variable ${v.default === undefined ? 'has no default' : `has default ${norm(v.default)}`}`);
    const expectedDefault = v.default === undefined ? 'n/a' : norm(v.default);
    if (codeCell(row.Default!) !== expectedDefault) problems.push(`Inputs: ${v.name}: default ${codeCell(row.Default!)}, the HCL says ${expectedDefault}`);
  }
  const declared = new Set(vars.map((v) => v.name));
  for (const name of rows.keys()) if (!declared.has(name)) problems.push(`Inputs: "${name}" is listed but the module has no such variable`);
  return problems;
}

function outputProblems(blocks: readonly HclBlock[], md: string): string[] {
  const t = table(md, 'Outputs', ['Name', 'Description']);
  const problems = [...t.problems];
  const rows = byName(t, 'Outputs', problems);
  const outs = outputs(blocks);
  for (const o of outs) {
    const row = rows.get(o.name);
    if (row === undefined) {
      problems.push(`Outputs: output "${o.name}" is not listed`);
      continue;
    }
    if (cellText(row.Description!) !== norm(o.description))
      problems.push(`Outputs: ${o.name}: description differs from the HCL\n    README: ${cellText(row.Description!)}\n    HCL:    ${norm(o.description)}`);
    const tag = swallowedTag(row.Description!);
    if (tag !== undefined) problems.push(`Outputs: ${o.name}: ${tag} in the description renders as nothing on GitHub (write &lt;)`);
  }
  const declared = new Set(outs.map((o) => o.name));
  for (const name of rows.keys()) if (!declared.has(name)) problems.push(`Outputs: "${name}" is listed but the module has no such output`);
  return problems;
}

function requirementProblems(blocks: readonly HclBlock[], md: string): string[] {
  const t = table(md, 'Requirements', ['Name', 'Version']);
  const problems = [...t.problems];
  const rows = byName(t, 'Requirements', problems);
  const wanted = requirements(blocks);
  for (const [name, version] of wanted) {
    const row = rows.get(name);
    if (row === undefined) problems.push(`Requirements: ${name} ${version} is not listed`);
    else if (codeCell(row.Version!) !== version) problems.push(`Requirements: ${name} is ${codeCell(row.Version!)} in the README, ${version} in the module`);
  }
  for (const name of rows.keys()) if (!wanted.has(name)) problems.push(`Requirements: ${name} is listed but the module does not require it`);
  return problems;
}

/** The `module` blocks of the ```hcl examples under "## Usage". */
function usageModules(md: string): { blocks: HclBlock[]; problems: string[] } {
  const lines = section(md, 'Usage');
  if (lines === undefined) return { blocks: [], problems: ['no "## Usage" section'] };
  const fences = [...lines.join('\n').matchAll(/^```hcl\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const blocks = fences.flatMap((src, i) => parseHcl(src, `README Usage example ${i + 1}`).blocks.filter((b) => b.type === 'module'));
  return { blocks, problems: blocks.length === 0 ? ['"## Usage" has no ```hcl example with a module block'] : [] };
}

/** `caller`: the module block through which the repository uses this module. */
function usageProblems(blocks: readonly HclBlock[], md: string, caller: HclBlock): string[] {
  const { blocks: examples, problems } = usageModules(md);
  const vars = variables(blocks);
  const declared = new Set(vars.map((v) => v.name));
  for (const ex of examples) {
    const where = `Usage: module "${ex.labels[0]}"`;
    const set = [...ex.attributes.keys()].filter((k) => !META_ARGUMENTS.has(k));
    for (const k of set) if (!declared.has(k)) problems.push(`${where} sets "${k}", which is no variable of the module`);
    for (const v of vars) if (v.default === undefined && !set.includes(v.name)) problems.push(`${where} leaves the required variable "${v.name}" unset`);
    if (attr(ex, 'source') !== attr(caller, 'source'))
      problems.push(`${where}: source ${attr(ex, 'source')}, but ${basename(caller.file)} calls the module with source ${attr(caller, 'source')}`);
    for (const k of set) if (declared.has(k) && !caller.attributes.has(k)) problems.push(`${where} sets "${k}", which ${caller.file} (module "${caller.labels[0]}") does not: keep the example consistent with it`);
  }
  return problems;
}

// --- The READMEs -------------------------------------------------------------------------------------

const moduleNames = readdirSync(MODULES_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

function callerOf(name: string): HclBlock {
  const c = CALLERS[name];
  assert.ok(c, `no caller recorded for infra/modules/${name}: add where the repository calls it to CALLERS`);
  const block = loadModule(c.dir).blocks.find((b) => b.type === 'module' && b.labels[0] === c.module);
  assert.ok(block, `module "${c.module}" not found in ${c.dir}`);
  return block;
}

const report = (problems: readonly string[]) => `README.md disagrees with the module:\n  ${problems.join('\n  ')}`;

describe('infra: module READMEs', () => {
  it('every module under infra/modules/ has a README.md', () => {
    assert.ok(moduleNames.length >= 3, `modules found: ${moduleNames.join(', ')}`);
    assert.deepEqual(
      moduleNames.filter((m) => !existsSync(join(MODULES_DIR, m, 'README.md'))),
      [],
    );
  });

  it('infra/README.md links every module README', () => {
    const md = readFileSync(join(INFRA, 'README.md'), 'utf8');
    for (const m of moduleNames) assert.ok(md.includes(`](modules/${m}/README.md)`), `infra/README.md has no link to modules/${m}/README.md`);
  });

  for (const name of moduleNames) {
    describe(`infra/modules/${name}/README.md`, () => {
      const dir = join(MODULES_DIR, name);
      const readme = join(dir, 'README.md');
      const md = () => readFileSync(readme, 'utf8');
      const blocks = () => loadModule(dir).blocks;

      it('Inputs: every variable, with its description, type, default and Required', () => {
        const problems = inputProblems(blocks(), md());
        assert.deepEqual(problems, [], report(problems));
      });
      it('Outputs: every output, with its description', () => {
        const problems = outputProblems(blocks(), md());
        assert.deepEqual(problems, [], report(problems));
      });
      it('Requirements: the Terraform and provider versions the module declares', () => {
        const problems = requirementProblems(blocks(), md());
        assert.deepEqual(problems, [], report(problems));
      });
      it('Usage: sets only variables that exist, every required one, as the repository calls the module', () => {
        const problems = usageProblems(blocks(), md(), callerOf(name));
        assert.deepEqual(problems, [], report(problems));
      });
    });
  }
});

// The checks above pass on true READMEs; these make sure they fail on untrue ones (copies in memory).
describe('infra: module README checks catch', () => {
  const hourglass = loadModule(MODULES.hourglass).blocks;
  const md = readFileSync(join(MODULES.hourglass, 'README.md'), 'utf8');
  const caller = callerOf('hourglass');
  const edit = (pattern: RegExp, replacement: string) => {
    const out = md.replace(pattern, replacement);
    assert.notEqual(out, md, `the README has no ${pattern}`);
    return out;
  };

  it('a variable missing from Inputs', () => {
    assert.match(inputProblems(hourglass, edit(/^\| window\\_s \|.*\n/m, '')).join('\n'), /variable "window_s" is not listed/);
  });
  it('a variable the README does not list', () => {
    const extra = parseHcl('variable "fake" {\n  description = "Not documented."\n  type        = string\n}\n', 'fake.tf').blocks;
    assert.match(inputProblems([...hourglass, ...extra], md).join('\n'), /variable "fake" is not listed/);
  });
  it('a listed variable the module lacks', () => {
    const row = '| fake | Not a variable. | `string` | n/a | yes |\n';
    assert.match(inputProblems(hourglass, edit(/^(\| window\\_s \|)/m, `${row}$1`)).join('\n'), /"fake" is listed but the module has no such variable/);
  });
  it('a Required column that disagrees with the default', () => {
    assert.match(inputProblems(hourglass, edit(/^(\| region \|.*\| )yes( \|)$/m, '$1no$2')).join('\n'), /region: Required = no, but the variable has no default/);
    assert.match(inputProblems(hourglass, edit(/^(\| labels \|.*\| )no( \|)$/m, '$1yes$2')).join('\n'), /labels: Required = yes, but the variable has default \{\}/);
  });
  it('a description, type or default that differs from the HCL', () => {
    const problems = inputProblems(hourglass, edit(/^(\| protect\\_data \| Refuse to delete)( the bucket)/m, '$1 only$2')).join('\n');
    assert.match(problems, /protect_data: description differs/);
    assert.match(inputProblems(hourglass, edit(/^(\| enable\\_apis \|.*\| )`bool`/m, '$1`string`')).join('\n'), /enable_apis: type string, the HCL says bool/);
    assert.match(inputProblems(hourglass, edit(/^(\| window\\_s \|.*\| )`3600`/m, '$1`60`')).join('\n'), /window_s: default 60, the HCL says 3600/);
  });
  it('an output missing, or listed but not in the module', () => {
    assert.match(outputProblems(hourglass, edit(/^\| gateway\\_url \|.*\n/m, '')).join('\n'), /output "gateway_url" is not listed/);
    assert.match(outputProblems(hourglass, edit(/^(\| gateway\\_url \|)/m, '| fake\\_url | Not an output. |\n$1')).join('\n'), /"fake_url" is listed but the module has no such output/);
  });
  it('a Usage example setting a variable that does not exist, or leaving a required one unset', () => {
    assert.match(usageProblems(hourglass, edit(/^(\s*)region(\s*)= /m, '$1regionn$2= '), caller).join('\n'), /sets "regionn", which is no variable of the module[\s\S]*leaves the required variable "region" unset/);
  });
  it('a provider version that differs', () => {
    assert.match(requirementProblems(hourglass, edit(/^\| google \| .* \|$/m, '| google | ~> 7.0 |')).join('\n'), /google is ~> 7\.0 in the README, ~> 8\.0 in the module/);
  });
});
