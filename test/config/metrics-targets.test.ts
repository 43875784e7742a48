import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const load = (argv: string[]) => loadConfig(argv, {});

// Issue #18 item 3: the push backends are implemented, so start-up no longer reports them.
test('implemented metrics targets and their keys are not reported as not supported', () => {
  const c = load([
    '-metrics.target=prometheus,stdout,flat,label,graphite,statsd_raw,dogstatsd',
    '-metrics.graphite.addr=127.0.0.1:2003',
    '-metrics.statsd.addr=127.0.0.1:8125',
    '-metrics.dogstatsd.addr=[::1]:8125',
    '-metrics.interval=5s',
    '-metrics.names={{clean .Service}}',
  ]);
  assert.deepEqual(c.unsupported, []);
});

test('circonus is still reported as not supported', () => {
  assert.deepEqual(load(['-metrics.target=circonus']).unsupported, ['metrics.target=circonus']);
});

const cases: [string, string[], RegExp][] = [
  ['graphite without an address', ['-metrics.target=graphite'], /^metrics\.graphite\.addr must be host:port/],
  [
    'statsd_raw with a bare host',
    ['-metrics.target=statsd_raw', '-metrics.statsd.addr=statsd'],
    /metrics\.statsd\.addr/,
  ],
  [
    'dogstatsd with a bad port',
    ['-metrics.target=dogstatsd', '-metrics.dogstatsd.addr=h:x'],
    /metrics\.dogstatsd\.addr/,
  ],
  ['statsd (removed in fabio)', ['-metrics.target=statsd'], /^statsd support has been removed in favor of statsd_raw$/],
  ['unknown backend', ['-metrics.target=influx'], /^invalid metrics backend influx$/],
];
for (const [name, argv, re] of cases) {
  test(`fails at start-up: ${name}`, () => {
    assert.throws(
      () => load(argv),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  });
}
