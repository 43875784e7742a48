import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, parseHttpLines, parseTcpLines, percentile, toMs } from '../../bench/cluster-parse.ts';

test('wrk latency units to milliseconds', () => {
  const cases: [string | undefined, number | undefined][] = [
    ['712.00us', 0.712],
    ['1.29ms', 1.29],
    ['1.20s', 1200],
    ['2.00m', 120000],
    ['', undefined],
    [undefined, undefined],
    ['fast', undefined],
  ];
  for (const [s, want] of cases) assert.equal(toMs(s), want, String(s));
});

test('run-http.sh lines: figures, errors, ratio lines ignored', () => {
  const out = [
    'WARN caddy not answering 200',
    'round=1 direct rps=69596.62 p50=300.00us p99=1.29s   Socket errors: connect 0, read 2, write 0, timeout 36 ',
    'round=1 project rps=2133.47 p50=22.98ms p99=296.11ms ',
    'round=1 ratio project/nginx=0.10',
    'round=2 nginx rps=21359.42 p50=1.89ms p99=26.52ms Non-2xx or 3xx responses: 5',
  ].join('\n');
  assert.deepEqual(parseHttpLines(out), [
    { bench: 'http', round: 1, name: 'direct', rps: 69596.62, p50: 0.3, p99: 1290, errors: 'r2,t36' },
    { bench: 'http', round: 1, name: 'project', rps: 2133.47, p50: 22.98, p99: 296.11, errors: '' },
    { bench: 'http', round: 2, name: 'nginx', rps: 21359.42, p50: 1.89, p99: 26.52, errors: 'non2xx5' },
  ]);
});

test('run-tcp.sh lines: bulk, conn, sni; an empty figure is 0', () => {
  const out = [
    '# bulk throughput (iperf3, 1 stream, 5s)',
    'bulk direct gbps=40.1',
    'bulk project gbps=',
    'conn haproxy rps=9000.5 p99=3.00ms ',
    'sni project rps=1800 p99=40.00ms    Socket errors: connect 3, read 0, write 0, timeout 0',
  ].join('\n');
  assert.deepEqual(parseTcpLines(out, 2), [
    { bench: 'bulk', round: 2, name: 'direct', gbps: 40.1, rps: undefined, p99: undefined, errors: '' },
    { bench: 'bulk', round: 2, name: 'project', gbps: 0, rps: undefined, p99: undefined, errors: '' },
    { bench: 'conn', round: 2, name: 'haproxy', gbps: undefined, rps: 9000.5, p99: 3, errors: '' },
    { bench: 'sni', round: 2, name: 'project', gbps: undefined, rps: 1800, p99: 40, errors: 'c3' },
  ]);
});

test('median and nearest-rank percentile', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 3);
  assert.ok(Number.isNaN(median([])));
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile([7], 99), 7);
});
