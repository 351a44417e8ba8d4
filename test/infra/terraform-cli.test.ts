// The checks that need the terraform CLI, skipped where it is not installed: `terraform fmt`
// (needs no provider), and scripts/infra-validate.sh (validate + plan against a mocked provider)
// where the google provider has already been built into .cache/ by that script.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INFRA, REPO } from './terraform-config.ts';

const env = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
const hasTerraform = spawnSync('terraform', ['version'], { stdio: 'ignore', env }).status === 0;

/** True when scripts/infra-validate.sh has built the google provider into its mirror. */
function providerCached(): boolean {
  const dir = join(REPO, '.cache', 'terraform-providers', 'registry.terraform.io', 'hashicorp', 'google');
  return existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => String(f).includes('terraform-provider-google_'));
}

describe('infra: terraform CLI', () => {
  it('is formatted (terraform fmt -check)', (t) => {
    if (!hasTerraform) return t.skip('terraform not on PATH');
    const r = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', INFRA], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, `terraform fmt would change:\n${r.stdout}${r.stderr}`);
  });

  it('validates and plans with the real google provider (scripts/infra-validate.sh)', (t) => {
    if (!hasTerraform) return t.skip('terraform not on PATH');
    if (!providerCached()) return t.skip('google provider not built: run scripts/infra-validate.sh once');
    const r = spawnSync('bash', [join(REPO, 'scripts', 'infra-validate.sh')], {
      env: { ...env, HOURGLASS_TF_SKIP_BUILD: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
