/** The version bone-peft writes into model cards is package.json's (src/version.ts says why it is a constant). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BONE_PEFT_VERSION } from '../../src/version.ts';

test('BONE_PEFT_VERSION equals package.json\'s version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(BONE_PEFT_VERSION, pkg.version);
});
