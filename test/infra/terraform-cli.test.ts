// The checks that need the terraform CLI: `terraform fmt` (needs no provider), and scripts/infra-validate.sh
// (validate + plan against a mocked provider) with the google provider that scripts/setup.sh builds into .cache/.
// Neither skips: where terraform or the provider is missing, the test fails and says what to run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INFRA, REPO, TERRAFORM_ENV, terraformMissing } from './terraform-config.ts';

/** Everything Terraform writes into a configuration's folder: a run of the checks must leave none in the work tree. */
const terraformLeftovers = () => globSync(['**/.terraform', '**/.terraform.lock.hcl', '**/*.tfstate*', '**/*.tfplan'], { cwd: INFRA }).sort();

describe('infra: terraform CLI', () => {
  it('is formatted (terraform fmt -check)', () => {
    assert.equal(terraformMissing(), undefined);
    const r = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', INFRA], { env: TERRAFORM_ENV, encoding: 'utf8' });
    assert.equal(r.status, 0, `terraform fmt would change:\n${r.stdout}${r.stderr}`);
  });

  it('validates and plans with the real google provider (scripts/infra-validate.sh), leaving nothing in the work tree', () => {
    assert.equal(terraformMissing(), undefined);
    const before = terraformLeftovers();
    const r = spawnSync('bash', [join(REPO, 'scripts', 'infra-validate.sh')], {
      // The provider is setup's to build (minutes); here a missing one is a failure, not a build.
      env: { ...TERRAFORM_ENV, HOURGLASS_TF_SKIP_BUILD: '1' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `scripts/infra-validate.sh failed (a missing provider is built by scripts/setup.sh, or scripts/infra-validate.sh --build):\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /Success! The configuration is valid\./);
    assert.match(r.stdout, /Success! \d+ passed, 0 failed\./, 'terraform test ran its plans');
    assert.deepEqual(terraformLeftovers(), before, 'no .terraform/, lock or state file written under infra/');
  });
});
