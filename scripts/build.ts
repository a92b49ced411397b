// `npm run build`, also run by `prepare` (so `npm install <git url>` and `npm pack` get it): dist/ as
// published, next to each other so `import.meta.url`-relative paths (package.json, the demo page) hold
// for both formats:
//   dist/**/*.js + .js.map   ESM, by tsc; the maps embed their sources (src/ is not published)
//   dist/**/*.d.ts           declarations, by tsc
//   dist/**/*.cjs + .cjs.map CommonJS for require(), by esbuild one file per source file, so the
//                            library, /testing and /server share one copy of each module
//   dist/**/*.d.cts          the declarations again, as TypeScript must see them under require()
//   dist/server/public/      the demo page
// The CLI (src/server/cli.ts, top-level await) is ESM only: bin/kafka-sse.js imports it.
// See docs/decisions/007-package-name-and-entry-points.md.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const CJS_EXCLUDED = new Set([join(SRC, 'server', 'cli.ts')]);

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
const peers = new Set(Object.keys(pkg.peerDependencies ?? {}));
const requireFromRoot = createRequire(join(ROOT, 'package.json'));

function files(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, keep) : keep(path) ? [path] : [];
  });
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** True when require() reaches a CommonJS file for this specifier (false: no require export, or ESM). */
function requirable(specifier: string): boolean {
  let file: string;
  try {
    file = requireFromRoot.resolve(specifier);
  } catch {
    return false; // e.g. it-pipe: its exports have no `require` condition
  }
  if (file.endsWith('.cjs')) return true;
  if (file.endsWith('.mjs')) return false;
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const { type } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
      return type !== 'module';
    } catch {
      // no package.json here; look further up
    }
  }
  return true;
}

/**
 * Each source file becomes one .cjs file: relative imports stay imports (of the sibling .cjs), packages
 * stay require() calls, except dependencies published as ESM only (it-pipe, uuid), which are bundled in
 * so require() works on every Node 20. Peers are never bundled: jose is ESM only, so the CommonJS server
 * entry needs a Node with require(esm) (20.19+, 22.12+).
 */
const perFileCjs: Plugin = {
  name: 'per-file-cjs',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (args.importer.split(sep).includes('node_modules')) return undefined; // inside a bundled dependency
      if (args.path.startsWith('.')) return { path: args.path.replace(/\.js$/, '.cjs'), external: true };
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      if (peers.has(packageName(args.path)) || requirable(args.path)) return { path: args.path, external: true };
      return undefined;
    });
  },
};

function run(cmd: string, args: string[]): void {
  const result = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed`);
    process.exit(result.status ?? 1);
  }
}

rmSync(DIST, { recursive: true, force: true }); // no stale files from moved or deleted sources
run(process.execPath, [requireFromRoot.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
cpSync(join(SRC, 'server', 'public'), join(DIST, 'server', 'public'), { recursive: true });

await build({
  entryPoints: files(SRC, (p) => p.endsWith('.ts') && !p.endsWith('.d.ts') && !CJS_EXCLUDED.has(p)),
  outdir: DIST,
  outbase: SRC,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // createRequire(import.meta.url) and new URL('./public/', import.meta.url) in CommonJS.
  define: { 'import.meta.url': '__importMetaUrl' },
  // "use strict" first: the banner would otherwise push esbuild's own directive out of directive position.
  banner: { js: '"use strict";\nconst __importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [perFileCjs],
});

// Declarations for require(): the same text, relative specifiers pointing at the .cjs siblings, so
// TypeScript (node16/nodenext) does not take the CommonJS entry for an ES module.
const relativeJs = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.js(['"])/g;
for (const dts of files(DIST, (p) => p.endsWith('.d.ts'))) {
  if (CJS_EXCLUDED.has(join(SRC, relative(DIST, dts)).replace(/\.d\.ts$/, '.ts'))) continue;
  writeFileSync(dts.replace(/\.d\.ts$/, '.d.cts'), readFileSync(dts, 'utf8').replace(relativeJs, '$1$2.cjs$3'));
}

console.log(`build: ${relative(ROOT, DIST)}/ (ESM, CommonJS, declarations for both)`);
