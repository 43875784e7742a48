// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the tag syntax under test, not a template
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { runRouteTool } from '../../src/cli/route-tools.ts';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await runRouteTool(argv, { stdin: Readable.from([stdin]), stdout, stderr });
  return { code, out, err };
}

const ROUTES = [
  '# demo',
  'route add web example.com/ http://10.0.0.1:8080/ tags "green"',
  'route add web example.com/ http://10.0.0.2:8080',
  'route add api /api http://10.0.0.3:9000/ weight 0.25 opts "strip=/api"',
  'route add api2 /api http://10.0.0.4:9000/',
  'route add old /old https://new.example.com/$path opts "redirect=301"',
  'route add db :3306 tcp://10.0.0.5:3306',
].join('\n');

let dir = '';
let file = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'route-tools-'));
  file = join(dir, 'routes.txt');
  await writeFile(file, ROUTES);
});
test.after(() => rm(dir, { recursive: true, force: true }));

test('table: prints the table text from a file', async () => {
  const r = await run(['table', file]);
  assert.equal(r.code, 0);
  assert.equal(r.err, '');
  assert.equal(
    r.out,
    [
      'route add web example.com/ http://10.0.0.1:8080/ weight 0.5000 tags "green"',
      'route add web example.com/ http://10.0.0.2:8080 weight 0.5000',
      'route add db :3306 tcp://10.0.0.5:3306 weight 1.0000',
      'route add old /old https://new.example.com/$path weight 1.0000 opts "redirect=301"',
      'route add api /api http://10.0.0.3:9000/ weight 0.2500 opts "strip=/api"',
      'route add api2 /api http://10.0.0.4:9000/ weight 0.7500',
      '',
    ].join('\n'),
  );
});

test('table: stdin with - and without a file; --dump', async () => {
  assert.equal((await run(['table', '-'], ROUTES)).out, (await run(['table', file])).out);
  assert.equal((await run(['table'], ROUTES)).out, (await run(['table', file])).out);
  const d = await run(['table', '--dump', file]);
  assert.equal(d.code, 0);
  assert.match(d.out, /^\+-- host=\n\| {3}\|-- path=\/old\n/);
});

test('table: empty table prints nothing, exit 0', async () => {
  assert.deepEqual(await run(['table', '-'], ''), { code: 0, out: '', err: '' });
  assert.deepEqual(await run(['table', '-'], '# only a comment\n\n'), { code: 0, out: '', err: '' });
});

test('table: invalid input → exit 1 with line N on stderr', async () => {
  const r = await run(['table', '-'], '# c\n\nroute add svc /x\n');
  assert.deepEqual(r, { code: 1, out: '', err: "line 3: syntax error: 'route add' invalid\n" });
  const missing = await run(['table', join(dir, 'nope.txt')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /ENOENT/);
});

test('usage errors → exit 2', async () => {
  for (const argv of [
    [],
    ['bogus'],
    ['table', '--nope'],
    ['table', 'a', 'b'],
    ['explain'],
    ['explain', '--matcher', 'x', 'http://a/'],
    ['explain', '--repeat', '0', 'http://a/'],
    ['explain', 'ftp://a/'],
    ['tags', '--addr', 'a', '--port', '1'],
    ['tags', '--service', 's', '--addr', 'a', '--port', 'x'],
  ]) {
    const r = await run(argv, ROUTES);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.out, '', argv.join(' '));
    assert.notEqual(r.err, '', argv.join(' '));
  }
});

test('help → exit 0 with the route help', async () => {
  const r = await run(['table', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /route add <svc> <src> <dst>/);
});

const explainCases: { name: string; argv: string[]; want: string }[] = [
  { name: 'target url', argv: ['http://example.com/x'], want: 'http://10.0.0.1:8080/\n' },
  {
    name: 'host as written, :80 normalised by lookup',
    argv: ['http://EXAMPLE.com:80/x'],
    want: 'http://10.0.0.1:8080/\n',
  },
  { name: 'no route', argv: ['http://other.com/nothing'], want: 'no route\n' },
  {
    name: 'redirect',
    argv: ['http://other.com/old/a%2Fb?q=1'],
    want: 'redirect 301 https://new.example.com/old/a%2Fb?q=1\n',
  },
  {
    name: 'rr picks over the ring',
    argv: ['--strategy', 'rr', '--repeat', '3', 'http://example.com/'],
    want: 'http://10.0.0.1:8080/\nhttp://10.0.0.2:8080\nhttp://10.0.0.1:8080/\n',
  },
  { name: 'https means TLS: :443 normalised', argv: ['https://example.com:443/'], want: 'http://10.0.0.1:8080/\n' },
  {
    name: 'Host header overrides',
    argv: ['--header', 'Host: example.com', 'http://1.2.3.4/'],
    want: 'http://10.0.0.1:8080/\n',
  },
  {
    name: 'redirect loop guard with X-Forwarded-Proto',
    argv: ['--header', 'X-Forwarded-Proto: https', 'http://new.example.com/old'],
    want: 'no route\n',
  },
  {
    name: 'no loop without X-Forwarded-Proto',
    argv: ['http://new.example.com/old'],
    want: 'redirect 301 https://new.example.com/old\n',
  },
];
for (const c of explainCases) {
  test(`explain: ${c.name}`, async () => {
    // rr: the first pick is the first ring slot, so the answer is deterministic
    const r = await run(['explain', '--routes', file, '--strategy', 'rr', ...c.argv]);
    assert.deepEqual(r, { code: 0, out: c.want, err: '' });
  });
}

test('explain: --why adds the decision', async () => {
  const r = await run(['explain', '--routes', '-', '--strategy', 'rr', '--why', 'http://example.com/x'], ROUTES);
  assert.equal(
    r.out,
    'http://10.0.0.1:8080/\n  Matching hosts: [example.com]\n  Match example.com/\n  Routing to service web on http://10.0.0.1:8080/\n',
  );
});

test('explain: --json single pick, array with --repeat, null for no route', async () => {
  const one = await run(['explain', '--routes', file, '--json', 'http://x.com/old/p']);
  assert.deepEqual(JSON.parse(one.out), {
    route: { host: '', path: '/old' },
    target: {
      service: 'old',
      url: 'https://new.example.com/$path',
      redirect: { code: 301, url: 'https://new.example.com/old/p' },
    },
  });
  const many = await run([
    'explain',
    '--routes',
    file,
    '--json',
    '--strategy',
    'rr',
    '--repeat',
    '2',
    'http://example.com/',
  ]);
  assert.deepEqual(
    JSON.parse(many.out).map((p: { target: { url: string } }) => p.target.url),
    ['http://10.0.0.1:8080/', 'http://10.0.0.2:8080'],
  );
  assert.equal((await run(['explain', '--routes', file, '--json', 'http://x.com/zzz'])).out, 'null\n');
});

test('explain: invalid routes → exit 1', async () => {
  const r = await run(['explain', '--routes', '-', 'http://a/'], 'nonsense');
  assert.deepEqual(r, { code: 1, out: '', err: "line 1: syntax error: 'route' expected\n" });
});

test('tags: route commands of one instance, reverse sorted, $DC from --dc', async () => {
  const r = await run([
    'tags',
    '--service',
    'web',
    '--addr',
    '10.0.0.1',
    '--port',
    '8080',
    '--dc',
    'dc7',
    'urlprefix-/a strip=/a',
    'urlprefix-${DC}.example.com/ proto=https',
    'green',
    'urlprefix-:9000 proto=tcp',
  ]);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      'route add web dc7.example.com/ https://10.0.0.1:8080 tags "green"',
      'route add web :9000 tcp://10.0.0.1:8080 tags "green"',
      'route add web /a http://10.0.0.1:8080/ tags "green" opts "strip=/a"',
      '',
    ].join('\n'),
  );
});

test('tags: --tagprefix, untranslatable tag → stderr and exit 1', async () => {
  const r = await run([
    'tags',
    '--service=s',
    '--addr=::1',
    '--port=80',
    '--tagprefix',
    'p-',
    'p-/x',
    'p-/r redirect=301',
  ]);
  assert.equal(r.code, 1);
  assert.equal(r.out, 'route add s /x http://[::1]:80/\n');
  assert.match(r.err, /Invalid syntax for redirect/);
});

test('stand-alone entry: exit codes through a real process', async () => {
  const entry = join(import.meta.dirname, '../../src/cli/route-main.ts');
  const exec = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', entry, 'route', ...args], { timeout: 30_000 }, (err, out) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out });
      });
    });
  assert.deepEqual(await exec(['table', file]).then((r) => r.code), 0);
  assert.equal((await exec(['table', '--bogus'])).code, 2);
  const bad = join(dir, 'bad.txt');
  await writeFile(bad, 'route nope');
  assert.equal((await exec(['table', bad])).code, 1);
});

test('route explain without --routes on a terminal says it reads stdin before waiting for it', async () => {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const done = runRouteTool(['explain', 'http://example.com/'], { stdin, stdout, stderr });
  // the hint comes while stdin is still open: poll with a deadline, then end the input
  const end = Date.now() + 5000;
  while (!err.includes('\n') && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  assert.equal(err, 'reading route commands from stdin (end with Ctrl-D); use --routes FILE\n');
  stdin.end(ROUTES);
  assert.equal(await done, 0);
  assert.match(out, /^http:\/\/10\.0\.0\.[12]:8080\/?\n$/);
});

test('route explain with piped stdin prints no hint', async () => {
  const r = await run(['explain', 'http://example.com/'], ROUTES);
  assert.equal(r.code, 0);
  assert.equal(r.err, '');
});
