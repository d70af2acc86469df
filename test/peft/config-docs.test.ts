import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CONFIG_DOCS_PATH, configDocs } from '../../scripts/make-config-docs.ts';

test('docs/adapter-configs.md is what the field declarations say (regenerate: node --import tsx scripts/make-config-docs.ts)', () => {
  assert.equal(readFileSync(CONFIG_DOCS_PATH, 'utf8'), configDocs());
});
