// The configuration schemas: the README's tables are the schemas', every variable the code names is declared, no code outside the schemas reads the environment, and every setting refuses a bad value naming the variable, the value and the range.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { README, SECTIONS, withTables } from '../../scripts/config-table.ts';
import { resolveSettings, type Setting } from '../../services/config/settings.ts';
import { hasCode } from '../../services/errors/catalogue.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Values that no strict setting accepts all of: the first one a setting's text schema refuses is its bad value. */
const CANDIDATES = ['not valid', '-1', '99999999999999999999', '7', '1.5', 'x', ','];

async function sourceFilesWith(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFilesWith(full, suffix)));
    else if (entry.name.endsWith(suffix)) out.push(full);
  }
  return out;
}
const sourceFiles = (dir: string) => sourceFilesWith(dir, '.ts');

const declared = new Set(SECTIONS.flatMap((s) => Object.values(s.spec).flatMap((x) => x.env ?? [])));

describe('configuration schemas', () => {
  it('the README\'s configuration tables are generated from the schemas (node scripts/config-table.ts)', async () => {
    const readme = await readFile(README, 'utf8');
    assert.equal(readme, withTables(readme), 'README.md differs from the schemas: run node scripts/config-table.ts');
  });

  it('every HOURGLASS_*, OTEL_* or PUBSUB_* variable named in services/ is declared in a schema', async () => {
    const undeclared = new Set<string>();
    for (const file of await sourceFiles(path.join(ROOT, 'services'))) {
      const text = await readFile(file, 'utf8');
      for (const [name] of text.matchAll(/\b(?:HOURGLASS|OTEL|PUBSUB)_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (new RegExp(`\\bconst ${name}\\b`).test(text)) continue; // a constant of the code, not a variable of the environment
        if (!declared.has(name)) undeclared.add(`${name} (${path.relative(ROOT, file)})`);
      }
    }
    assert.deepEqual([...undeclared], []);
  });

  it('every variable the Terraform modules set on a service is declared in a schema', async () => {
    const set = new Set<string>();
    for (const dir of ['infra/modules', 'infra/envs']) {
      const files = await sourceFilesWith(path.join(ROOT, dir), '.tf').catch(() => []);
      for (const file of files) for (const [, name] of (await readFile(file, 'utf8')).matchAll(/\b((?:HOURGLASS|OTEL|PUBSUB)_[A-Z0-9_]+)\s*=/g)) set.add(name!);
    }
    assert.ok(set.size >= 5, `the modules set variables: ${[...set].join(', ')}`);
    assert.deepEqual([...set].filter((n) => !declared.has(n)), []);
  });

  it('no code outside the schemas reads a variable of the environment', async () => {
    const readers: string[] = [];
    for (const file of await sourceFiles(path.join(ROOT, 'services'))) {
      const text = await readFile(file, 'utf8');
      // Handing the whole environment to a schema (resolveX(process.env)) or to a child process ({ ...process.env }) is fine; picking a variable out of it is not.
      for (const m of text.matchAll(/process\.env(?:\.[A-Za-z_]|\[)|\benv(?:\?)?\.[A-Z][A-Z0-9_]+\b|\benv\[['"`]/g)) readers.push(`${path.relative(ROOT, file)}: ${m[0]}`);
    }
    const outsideSchemas = readers.filter((r) => !r.startsWith('services/config/'));
    assert.deepEqual(outsideSchemas, []);
  });

  for (const section of SECTIONS) {
    it(`${section.title}: each setting refuses a bad value, naming the variable, the value and what is allowed`, () => {
      let refusable = 0;
      for (const [key, s] of Object.entries(section.spec) as Array<[string, Setting<unknown>]>) {
        const name = s.env?.[0];
        const bad = CANDIDATES.find((c) => !s.kind.text.safeParse(c).success);
        assert.ok(s.doc.length > 10 && s.kind.range.length > 3, `${key} has a meaning and a range`);
        if (name === undefined) continue; // set in code only: checked below through overrides
        if (bad === undefined) {
          assert.match(s.kind.range, /path|address|URL|gs:\/\//, `${name} accepts any text only when it is a path, an address or a location`);
          continue;
        }
        refusable++;
        assert.throws(
          () => resolveSettings(section.title, section.spec, { env: { [name]: bad } }),
          (err) => {
            assert.ok(hasCode(err, 'HG_CONFIG_INVALID'));
            const shown = s.secret ? '(value hidden)' : JSON.stringify(bad);
            assert.ok(err.message.includes(`${name}=${shown} is refused: must be ${s.kind.range}`), `${name}: ${err.message}`);
            if (s.secret) assert.ok(!err.message.includes(JSON.stringify(bad)), 'a secret is never echoed');
            return true;
          },
          `${name}=${JSON.stringify(bad)} is refused`,
        );
      }
      assert.ok(refusable > 0 || Object.values(section.spec).every((s) => !s.env), 'the section has a refusable setting');
    });
  }

  it('every problem is reported at once, not the first only', () => {
    const worker = SECTIONS.find((s) => s.title.startsWith('Worker'))!;
    assert.throws(
      () => resolveSettings('worker', worker.spec, { env: { HOURGLASS_WINDOW_S: '7', HOURGLASS_WORKER_STREAMS: '0', HOURGLASS_WORKER_CODEC: 'bzip2' } }),
      (err) => {
        const problems = (err as { details: { problems: string[] } }).details.problems;
        assert.equal(problems.length, 3, problems.join('\n'));
        return true;
      },
    );
  });
});
