import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { AuthSchemeSpec } from '../../../src/config/types.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import {
  createAuth,
  md5Crypt,
  parseBasic,
  parseHtpasswd,
  shaCrypt,
  verifyPassword,
  verifyPasswordAsync,
} from '../../../src/proxy/auth/index.ts';

const openssl = (...args: string[]) => execFileSync('openssl', ['passwd', ...args], { encoding: 'utf8' }).trim();
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const ssha = (pw: string, salt: Buffer) =>
  `{SSHA}${Buffer.concat([createHash('sha1').update(pw).update(salt).digest(), salt]).toString('base64')}`;

const PW = 'pa:ss wörd';
const hashes: { name: string; hash: string }[] = [
  { name: 'bcrypt $2y$', hash: bcrypt.hashSync(PW, 4).replace(/^\$2b\$/, '$2y$') },
  { name: 'bcrypt $2a$', hash: bcrypt.hashSync(PW, 4).replace(/^\$2b\$/, '$2a$') },
  { name: 'bcrypt $2b$', hash: bcrypt.hashSync(PW, 4) },
  { name: 'apr1 (openssl)', hash: openssl('-apr1', PW) },
  { name: 'md5 $1$ (openssl)', hash: openssl('-1', PW) },
  { name: 'sha256-crypt (openssl)', hash: openssl('-5', PW) },
  { name: 'sha512-crypt (openssl)', hash: openssl('-6', PW) },
  { name: 'sha512-crypt rounds (openssl)', hash: openssl('-6', '-salt', 'rounds=2000$abc', PW) },
  { name: '{SHA}', hash: `{SHA}${createHash('sha1').update(PW).digest('base64')}` },
  { name: '{SSHA}', hash: ssha(PW, randomBytes(8)) },
];

for (const h of hashes) {
  test(`verifyPassword: ${h.name}`, async () => {
    assert.equal(verifyPassword(h.hash, PW), true);
    assert.equal(verifyPassword(h.hash, `${PW}x`), false);
    assert.equal(verifyPassword(h.hash, ''), false);
    assert.equal(await verifyPasswordAsync(h.hash, PW), true);
    assert.equal(await verifyPasswordAsync(h.hash, 'nope'), false);
  });
}

test('crypt known vectors', () => {
  assert.equal(shaCrypt('Hello world!', '$5$saltstring'), openssl('-5', '-salt', 'saltstring', 'Hello world!'));
  // Drepper's published test vector (custom rounds, salt truncated to 16)
  assert.equal(
    shaCrypt('Hello world!', '$6$rounds=10000$saltstringsaltstring'),
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  );
  assert.equal(md5Crypt('secret', 'xy', '$1$'), openssl('-1', '-salt', 'xy', 'secret'));
  assert.equal(md5Crypt('myPassword', 'r31.....', '$apr1$'), openssl('-apr1', '-salt', 'r31.....', 'myPassword'));
});

test('unsupported formats never match', () => {
  assert.equal(verifyPassword('abJnggxhB/yWI', 'test'), false); // DES crypt
  assert.equal(verifyPassword('test', 'test'), false); // plain text
  assert.equal(verifyPassword('{SSHA}AAAA', 'x'), false);
  assert.equal(verifyPassword('$2y$04$broken', 'x'), false);
  assert.equal(shaCrypt('x', '$6$rounds=5000000$abc$'), undefined);
});

test('parseHtpasswd: comments, blank lines, malformed and unsupported lines', () => {
  const warnings: string[] = [];
  const users = parseHtpasswd('# comment\n\nalice:{SHA}abc\r\nbroken\nbob:plaintext\n  carol:$apr1$x$y  \n', (m) =>
    warnings.push(m),
  );
  assert.deepEqual(
    [...users],
    [
      ['alice', '{SHA}abc'],
      ['carol', '$apr1$x$y'],
    ],
  );
  assert.deepEqual(warnings, ['line 4: malformed htpasswd entry', 'line 5: unsupported password hash for user "bob"']);
});

test('parseBasic', () => {
  assert.deepEqual(parseBasic(basic('u', 'p:q')), ['u', 'p:q']);
  assert.deepEqual(parseBasic(`bAsIc ${Buffer.from('u:').toString('base64')}`), ['u', '']);
  assert.equal(parseBasic(undefined), undefined);
  assert.equal(parseBasic('Bearer abc'), undefined);
  assert.equal(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`), undefined);
  assert.equal(parseBasic('Basic !!!'), undefined);
});

function fixture(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'fabio-ts-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const scheme = (o: Partial<AuthSchemeSpec>): AuthSchemeSpec => ({
  name: 'mybasic',
  type: 'basic',
  file: '',
  realm: '',
  refresh: 0,
  ...o,
});

test('createAuth: check every hash format through the scheme, realm, unknown scheme', (t) => {
  const dir = fixture(t);
  const file = join(dir, 'htpasswd');
  writeFileSync(file, hashes.map((h, i) => `user${i}:${h.hash}`).join('\n'));
  const auth = createAuth(
    new Map([
      ['mybasic', scheme({ file })],
      ['other', scheme({ name: 'other', file, realm: 'Staff only' })],
    ]),
    memoryLogger(),
  );
  t.after(() => auth.close());
  for (const [i, h] of hashes.entries())
    assert.deepEqual(auth.check('mybasic', basic(`user${i}`, PW)), { ok: true }, h.name);
  assert.deepEqual(auth.check('mybasic', basic('user0', 'wrong')), { ok: false, challenge: 'Basic realm="mybasic"' });
  assert.deepEqual(auth.check('other', basic('nobody', PW)), { ok: false, challenge: 'Basic realm="Staff only"' });
  assert.deepEqual(auth.check('mybasic', undefined), { ok: false, challenge: 'Basic realm="mybasic"' });
  assert.equal(auth.check('unknown', basic('user0', PW)).ok, false);
  // cached answers are the same answers
  assert.equal(auth.check('mybasic', basic('user0', PW)).ok, true);
  assert.equal(auth.check('mybasic', basic('user0', 'wrong')).ok, false);
});

test('createAuth: checkAsync gives the same answers', async (t) => {
  const dir = fixture(t);
  const file = join(dir, 'htpasswd');
  writeFileSync(file, `a:${bcrypt.hashSync('pw', 4)}\nb:${openssl('-apr1', 'pw')}\n`);
  const auth = createAuth(new Map([['s', scheme({ name: 's', file })]]), memoryLogger());
  t.after(() => auth.close());
  assert.equal((await auth.checkAsync('s', basic('a', 'pw'))).ok, true);
  assert.equal((await auth.checkAsync('s', basic('a', 'px'))).ok, false);
  assert.equal((await auth.checkAsync('s', basic('b', 'pw'))).ok, true);
  assert.equal((await auth.checkAsync('nope', basic('b', 'pw'))).ok, false);
  // tryCheck: sync for fast hashes and cached results, undefined for uncached bcrypt
  assert.equal(auth.tryCheck('s', basic('b', 'pw'))?.ok, true);
  assert.equal(auth.tryCheck('s', basic('b', 'px'))?.ok, false);
  assert.equal(auth.tryCheck('s', basic('a', 'pw'))?.ok, true, 'cached by checkAsync');
  assert.equal(auth.tryCheck('s', basic('a', 'other')), undefined, 'bcrypt not yet verified');
  assert.equal(auth.tryCheck('s', undefined)?.ok, false);
  assert.equal(auth.tryCheck('s', basic('nobody', 'pw'))?.ok, false);
  assert.deepEqual(auth.tryCheck('nope', basic('b', 'pw')), { ok: false });
});

test('createAuth: refresh reloads on mtime change; missing file refuses everything until it returns', async (t) => {
  const dir = fixture(t);
  const file = join(dir, 'htpasswd');
  const sha = (pw: string) => `{SHA}${createHash('sha1').update(pw).digest('base64')}`;
  writeFileSync(file, `u:${sha('one')}\n`);
  utimesSync(file, 1000, 1000);
  const log = memoryLogger();
  const auth = createAuth(new Map([['s', scheme({ name: 's', file, refresh: 1000 })]]), log);
  t.after(() => auth.close());
  const ok = (pw: string) => auth.check('s', basic('u', pw)).ok;
  assert.equal(ok('one'), true);

  const poll = async (fn: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!fn() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return fn();
  };
  writeFileSync(file, `u:${sha('two')}\n`);
  utimesSync(file, 2000, 2000);
  assert.ok(await poll(() => ok('two') && !ok('one')), 'new password after refresh');
  unlinkSync(file);
  assert.ok(await poll(() => !ok('two')), 'missing file refuses');
  assert.ok(log.lines.some((l) => l.includes('is gone')));
  writeFileSync(file, `u:${sha('three')}\n`);
  assert.ok(await poll(() => ok('three')), 'file came back');
});

test('createAuth: unreadable file at start is an error naming the scheme', () => {
  assert.throws(
    () => createAuth(new Map([['s', scheme({ name: 's', file: '/nonexistent/htpasswd' })]]), memoryLogger()),
    /auth scheme "s": .*ENOENT/,
  );
});
