import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ACCESS_LOG_FIELDS,
  parseAccessLogFormat,
  validateAccessLogFormat,
} from '../../src/config/access-log-format.ts';

test('access log format: named formats and every field validate', () => {
  validateAccessLogFormat('common');
  validateAccessLogFormat('combined');
  validateAccessLogFormat(ACCESS_LOG_FIELDS.map((f) => `$${f}`).join(' '));
  validateAccessLogFormat('$header.X-Request-Id costs $ and $');
  assert.throws(() => validateAccessLogFormat('costs $5'), { message: 'invalid field "$5"' });
});

test('access log format: parts', () => {
  assert.deepEqual(parseAccessLogFormat('combined').slice(-4), [
    { kind: 'header', name: 'Referer' },
    { kind: 'text', text: '" "' },
    { kind: 'header', name: 'User-Agent' },
    { kind: 'text', text: '"' },
  ]);
  assert.deepEqual(parseAccessLogFormat('[$remote_addr]'), [
    { kind: 'text', text: '[' },
    { kind: 'field', name: 'remote_addr' },
    { kind: 'text', text: ']' },
  ]);
});

test('access log format: fabio errors', () => {
  assert.throws(() => validateAccessLogFormat(''), { message: 'empty log format' });
  assert.throws(() => validateAccessLogFormat('$remote_addr $nope'), { message: 'invalid field "$nope"' });
  assert.throws(() => validateAccessLogFormat('$remote_host-x'), { message: 'invalid field "$remote_host-x"' });
});
