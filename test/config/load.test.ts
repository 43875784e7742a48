import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, ConfigExit, loadConfig, parseScheme, testConfig } from '../../src/config/index.ts';
import { KEYS } from '../../src/config/keys.ts';

const files: Record<string, string> = {};
const readFile = (p: string) => {
  const t = files[p];
  if (t === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return t;
};
const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env, { readFile });

test('defaults: every key has a valid default and the documented value', () => {
  const c = load([]);
  for (const k of KEYS) assert.ok(k.name in c.values, k.name);
  assert.equal(c.str('proxy.addr'), ':9999');
  assert.equal(c.num('proxy.dialtimeout'), 30000);
  assert.equal(c.num('registry.retry'), 500);
  assert.equal(c.bool('registry.consul.requireConsistent'), true);
  assert.equal(c.num('proxy.noroutestatus'), 404);
  assert.equal(c.str('log.routes.format'), 'delta');
  assert.deepEqual(
    c.listeners.map((l) => [l.addr, l.proto]),
    [[':9999', 'http']],
  );
  assert.equal(c.ui.port, 9998);
  assert.deepEqual(c.unsupported, []);
  assert.deepEqual(c.warnings, []);
  assert.equal(c.certSources.size, 0);
  assert.equal(c.authSchemes.size, 0);
  assert.throws(() => c.str('no.such.key'), /unknown config key/);
  assert.throws(() => c.num('proxy.addr'), /not a number/);
});

test('Go flag syntax: -k=v, -k v, --k=v, --k v, bare bool, -k=false', () => {
  const cases: [string[], string, string | number | boolean][] = [
    [['-proxy.strategy=rr'], 'proxy.strategy', 'rr'],
    [['-proxy.strategy', 'rr'], 'proxy.strategy', 'rr'],
    [['--proxy.strategy=rr'], 'proxy.strategy', 'rr'],
    [['--proxy.strategy', 'rr'], 'proxy.strategy', 'rr'],
    [['-insecure'], 'insecure', true],
    [['--insecure'], 'insecure', true],
    [['-registry.consul.requireConsistent=false'], 'registry.consul.requireConsistent', false],
    [['-registry.consul.requireConsistent=0'], 'registry.consul.requireConsistent', false],
    [['-proxy.dialtimeout', '1m30s'], 'proxy.dialtimeout', 90000],
    [['-proxy.maxconn=0x10'], 'proxy.maxconn', 16],
    [['-ui.title', '-dash-'], 'ui.title', '-dash-'],
    [['-proxy.strategy=rnd', '-proxy.strategy=rr'], 'proxy.strategy', 'rr'],
    [['-test.v', '-test.run=x', '-proxy.strategy=rr'], 'proxy.strategy', 'rr'],
    [['-log.level=debug'], 'log.level', 'DEBUG'],
  ];
  for (const [argv, key, want] of cases) assert.equal(load(argv).values[key], want, argv.join(' '));
});

test('a bare bool flag does not eat the next argument; arguments after the flags are ignored with a warning', () => {
  const c = load(['-insecure', 'rest', '-proxy.strategy=rr']);
  assert.equal(c.bool('insecure'), true);
  assert.equal(c.str('proxy.strategy'), 'rnd');
  assert.deepEqual(c.warnings, ['ignoring command line arguments after the flags: rest -proxy.strategy=rr']);
  assert.equal(load(['--', '-proxy.strategy=rr']).str('proxy.strategy'), 'rnd');
});

test('flag errors use Go messages', () => {
  const cases: [string[], string][] = [
    [['-nope'], 'flag provided but not defined: -nope'],
    [['--nope=1'], 'flag provided but not defined: -nope'],
    [['-tracing.TracingEnabled=true'], 'flag provided but not defined: -tracing.TracingEnabled'],
    [['-proxy.dialtimeout=x'], 'invalid value "x" for flag -proxy.dialtimeout: parse error'],
    [['-proxy.maxconn=1.5'], 'invalid value "1.5" for flag -proxy.maxconn: parse error'],
    [
      ['-proxy.maxconn=99999999999999999999'],
      'invalid value "99999999999999999999" for flag -proxy.maxconn: value out of range',
    ],
    [['-insecure=yes'], 'invalid boolean value "yes" for -insecure: parse error'],
    [['-proxy.addr'], 'flag needs an argument: -proxy.addr'],
    [['---x'], 'bad flag syntax: ---x'],
    [['-=x'], 'bad flag syntax: -=x'],
    [['-cfg'], 'invalid or missing path to config file'],
    [['-cfg='], 'invalid or missing path to config file'],
    [["-cfg=''"], 'invalid or missing path to config file'],
    [['-cfg', ''], 'invalid or missing path to config file'],
    [['-cfg', '/missing.properties'], 'open /missing.properties: no such file or directory'],
  ];
  for (const [argv, msg] of cases) {
    assert.throws(
      () => load(argv),
      (err: unknown) =>
        err instanceof ConfigError &&
        !(err instanceof ConfigExit) &&
        err.message === msg &&
        err.exitCode === 1 &&
        err.stdout === '',
      argv.join(' '),
    );
  }
});

test('-v / -version / --version and -h / -help / --help', () => {
  for (const a of ['-v', '-version', '--version']) {
    assert.throws(
      () => load(['-proxy.strategy=bad', a]),
      (e: unknown) =>
        e instanceof ConfigExit &&
        e instanceof ConfigError &&
        e.kind === 'version' &&
        e.exitCode === 0 &&
        /^\d+\.\d+\.\d+\+([0-9a-f]{12}|unknown) node\d+.*\n$/.test(e.stdout) &&
        e.message === '',
      a,
    );
  }
  for (const a of ['-h', '-help', '--help']) {
    assert.throws(
      () => load([a]),
      (e: unknown) =>
        e instanceof ConfigExit &&
        e.kind === 'help' &&
        e.exitCode === 0 &&
        e.stdout === '' &&
        e.message.includes('  -proxy.dialtimeout duration') &&
        e.output.includes('(default 30s)'),
      a,
    );
  }
});

test('precedence: command line > FABIO_ env > bare env > properties file > default', () => {
  files['/p1'] = 'proxy.strategy = rr\nproxy.matcher = glob\nui.title = file\nlog.level = WARN\n';
  const env = { FABIO_UI_TITLE: 'fabio-env', ui_title: 'bare-env', PROXY_MATCHER: 'iprefix', fabio_log_level: 'error' };
  const c = load(['-cfg', '/p1', '-ui.title=flag'], env);
  assert.equal(c.str('ui.title'), 'flag');
  assert.equal(c.str('proxy.matcher'), 'iprefix', 'bare env beats file');
  assert.equal(c.str('log.level'), 'ERROR', 'env names are case-insensitive');
  assert.equal(c.str('proxy.strategy'), 'rr', 'file beats default');
  const c2 = load(['-cfg=/p1'], env);
  assert.equal(c2.str('ui.title'), 'fabio-env', 'FABIO_ prefix beats bare name');
  const c3 = load(['-cfg="/p1"']);
  assert.equal(c3.str('ui.title'), 'file');
});

test('env: camelCase keys match case-insensitively; fabio-ts-only keys need the FABIO_ prefix', () => {
  assert.equal(
    load([], { REGISTRY_CONSUL_ALLOWSTALE: 'true', registry_consul_requireconsistent: 'false' }).bool(
      'registry.consul.allowStale',
    ),
    true,
  );
  assert.equal(load([], { DEV: 'true' }).bool('dev'), false);
  assert.equal(load([], { FABIO_DEV: 'true' }).bool('dev'), true);
  assert.equal(load([], { INSECURE: 'true' }).bool('insecure'), true);
  assert.throws(() => load([], { FABIO_PROXY_DIALTIMEOUT: '5' }), {
    message:
      'invalid value "5" for flag -proxy.dialtimeout: parse error (from environment variable FABIO_PROXY_DIALTIMEOUT)',
  });
});

test('properties file: case-sensitive keys, unknown keys and tracing.* are warnings', () => {
  files['/p2'] = [
    'registry.consul.pollInterval = 5s',
    'registry.consul.checksRequired = all',
    'tracing.TracingEnabled = true',
    'made.up = 1',
    'proxy.addr = :1;proto=tcp',
  ].join('\n');
  const c = load(['-cfg', '/p2']);
  assert.equal(c.num('registry.consul.pollinterval'), 0, 'camelCase key in a file is not the flag');
  assert.equal(c.str('registry.consul.checksRequired'), 'all');
  assert.equal(c.listeners[0]?.proto, 'tcp');
  assert.deepEqual(c.warnings, [
    '/p2: unknown key registry.consul.pollInterval ignored (keys are case-sensitive in the file: did you mean registry.consul.pollinterval?)',
    '/p2: tracing.TracingEnabled ignored: tracing was removed in fabio 1.7.0',
    '/p2: unknown key made.up ignored',
  ]);
  files['/p3'] = 'proxy.shutdownwait = soon';
  assert.throws(() => load(['-cfg', '/p3']), {
    message: 'invalid value "soon" for flag -proxy.shutdownwait: parse error (from file /p3)',
  });
});

test('-cfg with a URL needs the fetched text (loadConfigAsync fetches it)', () => {
  assert.throws(() => load(['-cfg', 'https://example.com/fabio.properties']), /must be fetched first/);
});

test('unsupported keys are listed once; ignored keys are silent', () => {
  const c = load(
    ['-bgp.enabled=true', '-metrics.circonus.apikey=k', '-runtime.gogc=50', '-metrics.target=prometheus,circonus'],
    { FABIO_PROFILE_MODE: 'cpu' },
  );
  assert.deepEqual(c.unsupported, [
    'metrics.circonus.apikey',
    'profile.mode',
    'bgp.enabled',
    'metrics.target=circonus',
  ]);
});

test('deprecated proxy.log.routes is used as log.routes.format with a warning', () => {
  const c = load(['-proxy.log.routes=all']);
  assert.equal(c.str('log.routes.format'), 'all');
  assert.deepEqual(c.warnings, ["proxy.log.routes has been deprecated. Please use 'log.routes.format' instead"]);
  const d = load(['-log.routes.format=fancy']);
  assert.equal(d.str('log.routes.format'), 'delta');
  assert.deepEqual(d.warnings, ['Invalid route format "fancy". Using "delta"']);
});

test('post-processing: serviceMonitors <= 0 is 1, proxy.readtimeout/writetimeout feed listeners but not the ui', () => {
  const c = load([
    '-registry.consul.serviceMonitors=-3',
    '-proxy.readtimeout=3s',
    '-proxy.writetimeout=4s',
    '-proxy.addr=:1,:2;rt=1s',
  ]);
  assert.equal(c.num('registry.consul.serviceMonitors'), 1);
  assert.deepEqual(
    c.listeners.map((l) => [l.readTimeout, l.writeTimeout]),
    [
      [3000, 4000],
      [1000, 4000],
    ],
  );
  assert.equal(c.ui.readTimeout, 0);
  assert.ok(typeof c.values['proxy.localip'] === 'string');
});

test('startup validation: every message of section (c)', () => {
  const cases: [string[], string][] = [
    [['-proxy.strategy=wrr'], 'invalid proxy.strategy: wrr'],
    [['-proxy.matcher=regex'], 'invalid proxy.matcher: regex'],
    [['-ui.access=rx'], 'invalid ui.access: rx'],
    [['-proxy.noroutestatus=99'], 'proxy.noroutestatus must be between 100 and 999'],
    [['-proxy.noroutestatus=1000'], 'proxy.noroutestatus must be between 100 and 999'],
    [
      ['-registry.consul.allowStale=true'],
      'registry.consul.allowStale and registry.consul.requireConsistent cannot both be true',
    ],
    [['-ui.addr=:1,:2'], 'ui.addr must contain only one listener'],
    [
      ['-proxy.gzip.contenttype=^text/(html'],
      'invalid expression for content types: Invalid regular expression: /^text/(html/: Unterminated group',
    ],
    [['-proxy.addr=:1;proto=x'], 'unknown protocol "x"'],
    [['-proxy.addr=:1;cs=x'], 'unknown certificate source "x"'],
    [['-proxy.cs=type=file;cert=c'], "missing 'cs' in map[cert:c type:file]"],
    [['-proxy.cs=cs=a;type=file'], "missing 'cert' in map[cs:a type:file]"],
    [['-proxy.cs=cs=a;cert=c'], "missing 'type' in map[cert:c cs:a]"],
    [['-proxy.cs=cs=a;type=x;cert=c'], 'unknown cert source type x'],
    [['-proxy.cs=cs=a;type=path;cert=c;hdr=x'], 'invalid header x'],
    [['-proxy.auth=type=basic'], "missing 'name' in auth"],
    [['-proxy.auth=name=n'], "missing 'type' in auth 'n'"],
    [['-proxy.auth=name=n;type=basic'], "missing 'file' in auth 'n'"],
    [['-proxy.auth=name=n;type=ldap'], "unknown auth type 'ldap'"],
    [['-registry.backend=etcd'], 'Unknown registry backend etcd'],
    [['-log.access.target=stderr'], 'Invalid access log target stderr'],
    [['-log.access.target=stdout', '-log.access.format=$x'], 'Invalid log format: invalid field "$x"'],
    [['-log.access.target=stdout', '-log.access.format='], 'Invalid log format: empty log format'],
    [['-metrics.target=statsd'], 'statsd support has been removed in favor of statsd_raw'],
    [['-metrics.target=influx'], 'invalid metrics backend influx'],
    [['-log.level=LOUD'], 'invalid log level: LOUD'],
  ];
  for (const [argv, msg] of cases) {
    assert.throws(
      () => load(argv),
      (e: unknown) => e instanceof ConfigError && e.message === msg,
      `${argv.join(' ')} → ${msg}`,
    );
  }
});

test('access log format is only validated when the access log is on (as fabio)', () => {
  assert.equal(load(['-log.access.format=$x']).str('log.access.format'), '$x');
});

test('testConfig builds a Config from overrides', () => {
  const c = testConfig({ 'proxy.addr': '127.0.0.1:0', 'proxy.strategy': 'rr', 'glob.matching.disabled': true });
  assert.equal(c.listeners[0]?.host, '127.0.0.1');
  assert.equal(c.str('proxy.strategy'), 'rr');
  assert.equal(c.bool('glob.matching.disabled'), true);
});

test('parseScheme: registry.consul.addr', () => {
  const cases: [string, { scheme: string; addr: string }][] = [
    ['localhost:8500', { scheme: 'http', addr: 'localhost:8500' }],
    ['HTTPS://Consul:8501/ui', { scheme: 'https', addr: 'consul:8501' }],
    ['http://1.2.3.4:8500', { scheme: 'http', addr: '1.2.3.4:8500' }],
  ];
  for (const [s, want] of cases) assert.deepEqual(parseScheme(s), want, s);
});
