// Transpiles src/ and test/ into .test-build/ for scripts/run-tests.mjs, so each test
// file's process loads plain JavaScript instead of compiling TypeScript through tsx's
// loader hooks. Every test file is its own process, and loading the server's ~450
// modules through the hooks cost about a second of CPU each; on the 2-core CI machine
// that was about two of `npm test`'s twelve minutes. esbuild only strips types (tsc has
// checked them already) and writes inline source maps, so stack traces name the .ts lines.
//
// The tree keeps its shape (.test-build/src, .test-build/test), and what the code finds
// by relative path beside it (package.json, dist/, the spec data, the vendored app) is
// linked in, so a compiled test behaves as its source does.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TEST_BUILD = path.join(ROOT, '.test-build');

/** Data folders under test/ that hold no code of ours. */
const LINKED_TEST_DIRS = ['spec-data', 'vendor'];

function typeScriptFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return dir === path.join(ROOT, 'test') && LINKED_TEST_DIRS.includes(entry.name)
        ? []
        : typeScriptFiles(full);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

export async function compileTests() {
  rmSync(TEST_BUILD, { recursive: true, force: true });
  await build({
    entryPoints: ['src', 'test'].flatMap((dir) => typeScriptFiles(path.join(ROOT, dir))),
    outdir: TEST_BUILD,
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  mkdirSync(path.join(TEST_BUILD, 'test'), { recursive: true });
  symlinkSync('../package.json', path.join(TEST_BUILD, 'package.json'));
  symlinkSync('../dist', path.join(TEST_BUILD, 'dist'));
  for (const dir of LINKED_TEST_DIRS) {
    symlinkSync(`../../test/${dir}`, path.join(TEST_BUILD, 'test', dir));
  }
}

/** The compiled file of a test's source path (`test/e2e/x.test.ts` → `.test-build/test/e2e/x.test.js`). */
export function compiledPath(file) {
  return path.join(TEST_BUILD, path.relative(ROOT, path.resolve(file)).replace(/\.ts$/, '.js'));
}
