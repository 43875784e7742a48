import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ignoredSiblings,
  type KvEntry,
  kvEntries,
  manualText,
  noRouteHtml,
  underPrefix,
} from '../../src/registry/consul/kv.ts';

const e = (Key: string, v: string | null, ModifyIndex = 1): KvEntry => ({
  Key,
  Value: v === null ? null : Buffer.from(v).toString('base64'),
  ModifyIndex,
});

test('manual text: key comment, trimmed values, blank-line join, alphabetical', () => {
  const entries = [
    e('fabio/config/b', '  route del b\n'),
    e('fabio/config', '\nroute add a /a http://a:1/\n\n'),
    e('fabio/config/a', ''),
  ];
  assert.equal(
    manualText(entries, 'fabio/config'),
    '# --- fabio/config\nroute add a /a http://a:1/\n\n# --- fabio/config/a\n\n\n# --- fabio/config/b\nroute del b',
  );
});

test('manual text: sibling keys (fabio quirk P10) are not applied, and are reported', () => {
  const entries = [e('fabio/config', 'route del x'), e('fabio/config-old', 'route del everything')];
  assert.equal(manualText(entries, 'fabio/config'), '# --- fabio/config\nroute del x');
  assert.deepEqual(ignoredSiblings(entries, 'fabio/config'), ['fabio/config-old']);
});

test('prefix rule table', () => {
  const cases: [string, string, boolean][] = [
    ['fabio/config', 'fabio/config', true],
    ['fabio/config/x', 'fabio/config', true],
    ['fabio/config-old', 'fabio/config', false],
    ['fabio/configx', 'fabio/config', false],
    ['fabio/config/x', 'fabio/config/', true],
    ['fabio/other', 'fabio/config', false],
  ];
  for (const [key, prefix, want] of cases) assert.equal(underPrefix(key, prefix), want, `${key} under ${prefix}`);
});

test('no-route html joins trimmed values; null values are empty', () => {
  assert.equal(
    noRouteHtml([e('fabio/noroute.html', ' <h1>x</h1> '), e('fabio/noroute.html/b', null)], 'fabio/noroute.html'),
    '<h1>x</h1>\n\n',
  );
});

test('kvEntries: 404 and null are empty, non-list is an error', () => {
  assert.deepEqual(kvEntries({ status: 404, headers: {}, body: '' }), []);
  assert.deepEqual(kvEntries({ status: 200, headers: {}, body: 'null' }), []);
  assert.throws(() => kvEntries({ status: 200, headers: {}, body: '{}' }));
});
