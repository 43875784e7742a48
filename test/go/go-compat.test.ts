/**
 * The Go behaviours fabio-ts borrows, each pinned to what Go itself prints (cases from Go's own
 * strconv, net and net/netip tests). One module owns each (src/go/); nothing else may copy them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddrError, splitHostPort, trySplitHostPort } from '../../src/go/host-port.ts';
import { goAddr, goIp } from '../../src/go/ip.ts';
import { type Interfaces, localIP } from '../../src/go/local-ip.ts';
import { goQuote } from '../../src/go/quote.ts';

// strconv.Quote (go/src/strconv/quote_test.go quotetests, plus printability edges)
const quotes: [string, string][] = [
  ['\x07\b\f\r\n\t\v', '"\\a\\b\\f\\r\\n\\t\\v"'],
  ['\\', '"\\\\"'],
  ['"', '"\\""'],
  ['\u263a', '"☺"'],
  ['\u{10ffff}', '"\\U0010ffff"'],
  ['\x04', '"\\x04"'],
  ['\x00', '"\\x00"'],
  ['\x7f', '"\\x7f"'],
  ['!\u00a0!\u2000!\u3000!', '"!\\u00a0!\\u2000!\\u3000!"'],
  ['\u00ad', '"\\u00ad"'], // soft hyphen: format char, not printable
  ['\u2028', '"\\u2028"'],
  ['\u{1f600}', '"😀"'],
  ['\u{e0001}', '"\\U000e0001"'],
  ['héllo wörld', '"héllo wörld"'],
  ['\ud800', '"\\ufffd"'], // a lone surrogate cannot be in a Go string; Go decodes it as U+FFFD
  ['', '""'],
];
for (const [input, want] of quotes) {
  test(`goQuote(${JSON.stringify(input)}) = ${want}`, () => assert.equal(goQuote(input), want));
}

// net.SplitHostPort (go/src/net/ipsock_test.go splitJoinTests and splitFailureTests)
const splits: [string, string, string][] = [
  ['www.google.com:80', 'www.google.com', '80'],
  ['[127.0.0.1]:80', '127.0.0.1', '80'],
  ['[::1]:80', '::1', '80'],
  ['[fe80::1%lo0]:80', 'fe80::1%lo0', '80'],
  ['localhost%lo0:80', 'localhost%lo0', '80'],
  [':80', '', '80'],
  ['127.0.0.1:', '127.0.0.1', ''],
  ['[::1]:', '::1', ''],
  ['[]:80', '', '80'],
  ['host:http', 'host', 'http'],
];
for (const [hp, host, port] of splits) {
  test(`splitHostPort(${hp}) = ${host} ${port}`, () => {
    assert.deepEqual(splitHostPort(hp), { host, port });
    assert.deepEqual(trySplitHostPort(hp), { host, port });
  });
}
const failures: [string, string][] = [
  ['www.google.com', 'missing port in address'],
  ['127.0.0.1', 'missing port in address'],
  ['[::1]', 'missing port in address'],
  ['[fe80::1%lo0]', 'missing port in address'],
  ['[localhost%lo0]', 'missing port in address'],
  ['localhost%lo0', 'missing port in address'],
  ['::1', 'too many colons in address'],
  ['fe80::1%lo0', 'too many colons in address'],
  ['fe80::1%lo0:80', 'too many colons in address'],
  ['[foo:bar]', 'missing port in address'],
  ['[foo:bar]baz', 'missing port in address'],
  ['[foo]bar:baz', 'missing port in address'],
  ['[foo]:[bar]:baz', 'too many colons in address'],
  ['[foo]:[bar]baz', "unexpected '[' in address"],
  ['foo[bar]:baz', "unexpected '[' in address"],
  ['foo]bar:baz', "unexpected ']' in address"],
  ['[foo:bar', "missing ']' in address"],
];
for (const [hp, why] of failures) {
  test(`splitHostPort(${hp}) fails: ${why}`, () => {
    assert.throws(
      () => splitHostPort(hp),
      (e: unknown) => e instanceof AddrError && e.message === `address ${hp}: ${why}` && e.why === why,
    );
    assert.equal(trySplitHostPort(hp), undefined);
  });
}

test('goIp is net.IP.String of the addresses Node reports; goAddr is net.JoinHostPort', () => {
  assert.equal(goIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(goIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(goIp('127.0.0.1'), '127.0.0.1');
  assert.equal(goIp('::1'), '::1');
  assert.equal(goIp('2001:db8::1'), '2001:db8::1');
  assert.equal(goIp('::ffff:abcd'), '::ffff:abcd'); // not a mapped IPv4 address in Node's spelling
  assert.equal(goIp(''), '');
  assert.equal(goIp(undefined), '');
  assert.equal(goAddr('::1', 80), '[::1]:80');
  assert.equal(goAddr('fe80::1%lo0', 80), '[fe80::1%lo0]:80');
  assert.equal(goAddr('1.2.3.4', 5), '1.2.3.4:5');
  assert.equal(goAddr('1.2.3.4', undefined), '1.2.3.4:0');
});

const nic = (address: string, internal = false, family = 'IPv4') =>
  ({ address, internal, family, netmask: '', mac: '', cidr: null }) as NonNullable<Interfaces[string]>[number];

test("localIP: first external IPv4 that is not link-local, '' when none (callers pick a fallback)", () => {
  const ifs: Interfaces = {
    lo: [nic('127.0.0.1', true)],
    eth0: [nic('fe80::1', false, 'IPv6'), nic('169.254.1.1'), nic('203.0.113.7')],
    eth1: [nic('10.0.0.2')],
  };
  assert.equal(localIP(ifs), '203.0.113.7');
  assert.equal(localIP({ lo: [nic('127.0.0.1', true)], eth0: [nic('169.254.9.9')] }), '');
  assert.equal(localIP({}) || '127.0.0.1', '127.0.0.1');
});
