// `npm run binary`: release/fabio-ts-<platform>-<arch>, one file that needs nothing beside it.
//
// Node's single executable application (SEA): esbuild bundles src/cli.ts with every dependency into
// one CommonJS file (a SEA main script can require only built-in modules), with the UI assets and the
// build commit compiled in; `node --experimental-sea-config` turns that into a blob; the blob is
// injected into a copy of this node binary with postject and the SEA fuse set.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { gitCommit, withCommit } from './build-info.mjs';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'release');
const work = join(out, '.build');
const name = `fabio-ts-${process.platform}-${process.arch}${process.platform === 'win32' ? '.exe' : ''}`;
const exe = join(out, name);
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const commit = gitCommit(root);

/** Replaces src/ui/embedded-assets.ts with a module holding every file of src/ui/assets. */
const embedAssets = {
  name: 'embed-ui-assets',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]ui[\\/]embedded-assets\.ts$/ }, () => {
      const dir = join(root, 'src/ui/assets');
      const files = readdirSync(dir)
        .filter((f) => statSync(join(dir, f)).isFile())
        .map((f) => [f, join(dir, f)]);
      // third-party UI files (the chart library), from their package
      const req = createRequire(join(root, 'package.json'));
      const vendor = JSON.parse(readFileSync(join(root, 'src/ui/vendor-assets.json'), 'utf8'));
      for (const [name, spec] of Object.entries(vendor)) files.push([name, req.resolve(spec)]);
      const entries = files
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(
          ([f, path]) =>
            `[${JSON.stringify(f)}, Buffer.from(${JSON.stringify(readFileSync(path).toString('base64'))}, 'base64')]`,
        );
      return { contents: `export const EMBEDDED_ASSETS = new Map([${entries.join(',\n')}]);\n`, loader: 'js' };
    });
  },
};

/** Writes the build commit into src/version.ts. */
const stampCommit = {
  name: 'stamp-commit',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, (args) => ({
      contents: withCommit(readFileSync(args.path, 'utf8'), commit),
      loader: 'ts',
    }));
  },
};

const bundle = join(work, 'fabio-ts.cjs');
const result = await build({
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: false,
  legalComments: 'eof',
  logLevel: 'warning',
  // import.meta.url is read only where the bundle never goes: the assets folder (the assets are
  // embedded) and the git lookup of src/version.ts (the commit is stamped in).
  logOverride: { 'empty-import-meta': 'silent' },
  plugins: [embedAssets, stampCommit],
  // The executable is the only file: nothing may be left to load from node_modules at run time.
  external: [],
});
if (result.errors.length > 0) process.exit(1);

const seaConfig = join(work, 'sea-config.json');
const blob = join(work, 'sea-prep.blob');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8's compiled code for the bundle, valid for exactly this node (the one copied below): 10 runs
    // of `-v` took 1.53 s of CPU instead of 1.96 s without it (0.26 MB more).
    useCodeCache: true,
    useSnapshot: false,
  }),
);
try {
  execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'pipe' });
} catch (err) {
  process.stderr.write(String(err.stderr ?? err));
  process.exit(1);
}

rmSync(exe, { force: true });
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', exe], { stdio: 'inherit' });
const postject = join(root, 'node_modules/postject/dist/cli.js');
const pjArgs = [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE];
if (process.platform === 'darwin') pjArgs.push('--macho-segment-name', 'NODE_SEA');
// postject (LIEF) prints harmless "Can't find string offset for section name" lines: show its
// output only when it fails.
try {
  execFileSync(process.execPath, pjArgs, { stdio: 'pipe' });
} catch (err) {
  process.stderr.write(String(err.stderr ?? err));
  process.exit(1);
}
if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', exe], { stdio: 'inherit' });
rmSync(work, { recursive: true, force: true });

const mb = (statSync(exe).size / 1024 / 1024).toFixed(1);
// The checksum is what the Nomad job's artifact stanza can pin (deploy/fabio-ts.nomad).
const sha = createHash('sha256').update(readFileSync(exe)).digest('hex');
writeFileSync(`${exe}.sha256`, `${sha}  ${name}\n`);
process.stdout.write(`${exe} (${mb} MB, commit ${commit})\nsha256:${sha}\n`);
