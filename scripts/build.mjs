// `npm run build` (and `npm start`, `npm run weft`, `npm test`, `npm run bench` before
// they run dist/): compiles src/ into dist/ only when dist/ is not what src/ compiles to.
//
// dist/.build-stamp records, for the last build this script made, a SHA-256 of every
// input (each file under src/, tsconfig.json, tsconfig.build.json, package.json and the
// TypeScript version) and the size and mtime of every .js file it produced. dist/ is
// current when the inputs hash the same and every output is still there, unchanged. The
// check reads ~1 MB and takes a few milliseconds; `tsc -b`'s own up-to-date check costs
// ~0.3 s of loading TypeScript, compares mtimes only and misses a deleted output.
//
// A stale dist/ is rebuilt with `tsc --incremental` (dist/.tsbuildinfo), which after a
// one-file change takes about half a full build; when outputs went missing or were
// written by something else (a plain `tsc`), the build info is dropped first, so every
// file is emitted again. The inputs are hashed before tsc starts: an edit made during the
// build makes the next check fail, never a stamp that hides it. `--force` always builds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, '.build-stamp');
const BUILD_INFO = path.join(DIST, '.tsbuildinfo');
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

const require = createRequire(import.meta.url);
const TSC = require.resolve('typescript/bin/tsc');

/** Every file under `dir`, as paths relative to ROOT with `/`, sorted. */
function filesUnder(dir) {
  const out = [];
  const walk = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(path.relative(ROOT, full).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

function inputsHash(sources) {
  const hash = createHash('sha256');
  const typescript = JSON.parse(readFileSync(require.resolve('typescript/package.json'), 'utf8'));
  hash.update(`typescript ${typescript.version}\0`);
  for (const file of [...CONFIG_FILES, ...sources]) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(path.join(ROOT, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** dist/ paths (relative to dist/) of the .js files the sources compile to. */
function expectedOutputs(sources) {
  return sources
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice('src/'.length, -'.ts'.length) + '.js');
}

/** `size:mtime` of each output that exists. */
function outputStates(outputs) {
  const states = {};
  for (const file of outputs) {
    try {
      const stat = statSync(path.join(DIST, file));
      states[file] = `${stat.size}:${stat.mtimeMs}`;
    } catch {
      // Missing: left out.
    }
  }
  return states;
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether every output the last build recorded, of a source that still exists, is there
 * as that build left it. (Outputs of new sources are not there yet: tsc emits them.)
 */
function recordedOutputsIntact(outputs, recorded, current) {
  if (!recorded) return false;
  return outputs.every((file) => !(file in recorded) || recorded[file] === current[file]);
}

const force = process.argv.includes('--force');
const sources = filesUnder(SRC);
const inputs = inputsHash(sources);
const outputs = expectedOutputs(sources);
const stamp = readStamp();
const current = outputStates(outputs);
const intact = recordedOutputsIntact(outputs, stamp?.outputs, current);
const complete = outputs.every((file) => file in current);

if (!force && intact && complete && stamp.inputs === inputs) process.exit(0);

// From here on dist/ is not known to be current until tsc has succeeded.
rmSync(STAMP, { force: true });
if (force || !intact) rmSync(BUILD_INFO, { force: true });
console.error(
  `weft: building dist/ (${force ? '--force' : intact ? 'src/ changed' : 'dist/ missing, incomplete or rewritten'})`,
);
const result = spawnSync(
  process.execPath,
  [TSC, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', BUILD_INFO],
  { cwd: ROOT, stdio: 'inherit' },
);
if (result.status === null) process.exit(1); // killed: the next run builds everything
const built = outputStates(outputs);
if (result.status !== 0) {
  // Type errors (tsc still emits): the stamp matches no inputs, so the next run builds
  // again, but the outputs are known to be tsc's, so that build can be incremental.
  writeFileSync(STAMP, `${JSON.stringify({ inputs: null, outputs: built })}\n`);
  process.exit(result.status);
}
if (!outputs.every((file) => file in built)) {
  console.error('weft: the build did not produce every expected file in dist/');
  process.exit(1);
}
writeFileSync(STAMP, `${JSON.stringify({ inputs, outputs: built })}\n`);
