// Runs every *.test.ts under test/ with node's test runner (Node 20 has no --test globs).
// The storage contract tests (test/storage/) run on SQLite and PostgreSQL: without
// WEFT_TEST_POSTGRES_URL, a throw-away cluster is started for the run when PostgreSQL
// is installed (scripts/postgres-cluster.sh), and stopped after. WEFT_REQUIRE_POSTGRES=1
// (CI) makes a missing PostgreSQL an error instead of a skip. WEFT_TEST_DATABASE=postgres
// runs the end-to-end suites on PostgreSQL too. The tests run compiled to JavaScript
// (scripts/compile-tests.mjs: the same code, loaded without tsx's per-process cost).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { compileTests, compiledPath } from './compile-tests.mjs';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** Its own port, so that a cluster someone started on the default one is left alone. */
const CLUSTER_PORT = '55433';
const cluster = path.join(import.meta.dirname, 'postgres-cluster.sh');

function startCluster() {
  const started = spawnSync(cluster, ['start', CLUSTER_PORT], { encoding: 'utf8' });
  if (started.status === 0) return started.stdout.trim();
  const why = (started.stderr || started.error?.message || '').trim();
  if (process.env.WEFT_REQUIRE_POSTGRES) {
    console.error(`PostgreSQL is required (WEFT_REQUIRE_POSTGRES) but did not start: ${why}`);
    process.exit(1);
  }
  console.warn(`PostgreSQL did not start (${why}): its storage tests are skipped.`);
  return undefined;
}

const arg = process.argv.slice(2);
const files = (arg.length > 0 ? arg : ['test']).flatMap((name) =>
  name.endsWith('.ts') ? [name] : testFiles(name).sort(),
);
let ownCluster = false;
if (!process.env.WEFT_TEST_POSTGRES_URL) {
  // A cluster already running on the port is another run's (a second run on the same
  // machine): use it, and leave it running after, or that run's tests would lose it.
  const alreadyRunning = existsSync(
    path.join(
      process.env.TMPDIR || '/tmp',
      `weft-postgres-${CLUSTER_PORT}`,
      'data',
      'postmaster.pid',
    ),
  );
  const url = startCluster();
  if (url) {
    process.env.WEFT_TEST_POSTGRES_URL = url;
    ownCluster = !alreadyRunning;
  }
}
await compileTests();
const result = spawnSync(
  process.execPath,
  [
    '--enable-source-maps',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=2',
    ...files.map(compiledPath),
  ],
  { stdio: 'inherit' },
);
if (ownCluster) spawnSync(cluster, ['stop', CLUSTER_PORT], { stdio: 'inherit' });
process.exit(result.status ?? 1);
