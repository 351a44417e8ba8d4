// The HCL reader the infra tests stand on: what it keeps of blocks, labels and expressions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHcl } from './hcl.ts';

describe('infra: HCL reader', () => {
  it('reads blocks, labels and attributes, keeping expressions as text', () => {
    const body = parseHcl(
      [
        '# comment',
        'resource "google_pubsub_topic" "type" {',
        '  for_each = local.types // why',
        '  name     = "${var.prefix}${each.key}"',
        '  labels   = merge(local.labels, {',
        '    tier = each.value.tier',
        '  })',
        '  replication {',
        '    auto {}',
        '  }',
        '  one { a = 1 }',
        '}',
      ].join('\n'),
    );
    const [r] = body.blocks;
    assert.equal(r?.type, 'resource');
    assert.deepEqual(r?.labels, ['google_pubsub_topic', 'type']);
    assert.equal(r?.attributes.get('for_each')?.expr, 'local.types');
    assert.equal(r?.attributes.get('name')?.expr, '"${var.prefix}${each.key}"');
    assert.equal(r?.attributes.get('labels')?.expr, 'merge(local.labels, {\n    tier = each.value.tier\n  })');
    assert.deepEqual(r?.blocks.map((b) => b.type), ['replication', 'one']);
    assert.equal(r?.blocks[0]?.blocks[0]?.type, 'auto');
    assert.equal(r?.blocks[1]?.attributes.get('a')?.expr, '1');
    assert.equal(r?.line, 2);
  });

  it('skips strings with nested quotes, braces and heredocs inside expressions', () => {
    const body = parseHcl(
      [
        'a = "x ${join("}", ["{"])} y"',
        'b = <<-EOT',
        '  } not the end {',
        '  EOT',
        'c = { k = "v" }',
      ].join('\n'),
    );
    assert.equal(body.attributes.get('a')?.expr, '"x ${join("}", ["{"])} y"');
    assert.match(body.attributes.get('b')?.expr ?? '', /not the end/);
    assert.equal(body.attributes.get('c')?.expr, '{ k = "v" }');
  });

  it('rejects what it cannot read, with the line', () => {
    assert.throws(() => parseHcl('a = "open\n', 'x.tf'), /x\.tf:1: newline in a string/);
    assert.throws(() => parseHcl('b {\n  c = 1\n', 'y.tf'), /y\.tf:3: unexpected end of file/);
    assert.throws(() => parseHcl('a = 1\na = 2\n', 'z.tf'), /attribute "a" set twice/);
  });
});
