import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIP_MAX, clip } from '../../src/log/clip.ts';

test('clip: short values pass unchanged, long ones are cut with a marker, control bytes escaped', () => {
  assert.equal(clip('a.example'), 'a.example');
  const long = 'x'.repeat(65000);
  const c = clip(long);
  assert.equal(c, `${'x'.repeat(CLIP_MAX)}...(${65000 - CLIP_MAX} more bytes)`);
  assert.equal(clip('a\nb\u0000c\u007f'), 'a\\x0ab\\x00c\\x7f');
  assert.equal(clip('abcdef', 3), 'abc...(3 more bytes)');
});
