/**
 * `weft migrate-db`: copies a stopped SQLite Weft's database into an empty
 * PostgreSQL database, table by table, verbatim (the PostgreSQL schema mirrors
 * SQLite's column for column, with the same encodings), then checks the copy.
 *
 * The SQLite file is opened read-only and read in one transaction (one
 * snapshot); the copy is one PostgreSQL transaction, so a failure leaves the
 * target empty to try again. A SQLite file that another process has open
 * (a running Weft) is refused: on Linux its locks show in /proc/locks, and
 * anywhere a commit by another connection during the copy is noticed
 * (`PRAGMA data_version`) and undoes the copy. A WAL left by a crash is fine:
 * the read-only connection reads through it, and writes nothing.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { OperatorError } from '../util/operator-error.js';
import type pg from 'pg';
import { latestSchemaVersion } from '../storage/sqlite/migrations.js';
import { PgDatabase, SchemaTooNewError } from '../storage/postgres/database.js';
import { searchBackfillSql } from '../storage/postgres/schema/search.js';

/** A migration refused or failed for a reason the operator can act on: one line, exit code 1. */
export class MigrationError extends OperatorError {}

export interface MigrationOptions {
  sqliteFile: string;
  targetUrl: string;
  /** The summary (stdout). */
  print: (line: string) => void;
  /** Progress of long copies (stderr). */
  progress: (line: string) => void;
}

/** Tables that are not data: each backend's own schema bookkeeping. */
const SKIPPED_TABLES = new Set(['schema_version', 'sqlite_sequence']);
/** Rows per INSERT, unless the batch's text reaches BATCH_CHARS first. */
const BATCH_ROWS = 2000;
const BATCH_CHARS = 8_000_000;
const PROGRESS_INTERVAL_MS = 1000;
const SAMPLED_EVENTS = 200;

interface TablePlan {
  name: string;
  columns: string[];
  /** The PostgreSQL type of each column, for the arrays the rows go in as. */
  pgTypes: string[];
  /** Columns whose `<table>_<column>_seq` continues after the copied values. */
  sequenceColumns: string[];
}

interface TableCount {
  table: string;
  sqlite: number;
  postgres: number;
}

export async function migrateSqliteToPostgres(options: MigrationOptions): Promise<void> {
  const started = Date.now();
  const sidecars = absentSidecars(options.sqliteFile);
  const source = openSource(options.sqliteFile);
  try {
    const target = await openTarget(options.targetUrl);
    try {
      const plan = await planTables(source, target);
      await refuseNonEmpty(target, plan);
      options.progress(
        `Copying ${plan.length} tables from ${options.sqliteFile} to ${displayUrl(options.targetUrl)}`,
      );
      await copyEverything(source, target, plan, options.progress);
      const counts = await countRows(source, target, plan);
      const eventMismatches = await compareSampledEvents(source, target);
      printSummary(options, counts, eventMismatches, Date.now() - started);
    } finally {
      await target.close();
    }
  } finally {
    source.close();
    removeCreatedSidecars(options.sqliteFile, sidecars);
  }
}

// The source.

/** Which of the database's -wal and -shm are absent (a cleanly stopped Weft leaves none). */
function absentSidecars(file: string): string[] {
  return [`${file}-wal`, `${file}-shm`].filter((sidecar) => !existsSync(sidecar));
}

/**
 * Removes the -wal and -shm that the read-only connection created: unlike a
 * writer's, it cannot delete them on closing. A -wal with content would be
 * someone else's (the connection writes nothing), so then both stay.
 */
function removeCreatedSidecars(file: string, created: string[]): void {
  const wal = `${file}-wal`;
  if (created.includes(wal) && existsSync(wal) && statSync(wal).size > 0) return;
  for (const sidecar of created) rmSync(sidecar, { force: true });
}

function openSource(file: string): Database.Database {
  if (!existsSync(file)) throw new MigrationError(`There is no SQLite database at ${file}`);
  const holders = processesLocking([file, `${file}-shm`]);
  if (holders.length > 0) {
    throw new MigrationError(
      `${file} is open in another process (pid ${holders.join(', ')}): stop Weft first`,
    );
  }
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    checkSchemaVersion(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function checkSchemaVersion(db: Database.Database): void {
  const hasVersions = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    .get();
  const version = hasVersions
    ? ((db.prepare('SELECT MAX(version) FROM schema_version').pluck().get() as number | null) ?? 0)
    : 0;
  if (version < latestSchemaVersion) {
    throw new MigrationError(
      `The SQLite database is at schema version ${version}, this Weft's is ${latestSchemaVersion}: ` +
        'start this Weft once on it (database.backend sqlite) to upgrade it, stop it, then migrate',
    );
  }
  if (version > latestSchemaVersion) {
    throw new MigrationError(
      `The SQLite database is at schema version ${version}, newer than this Weft knows ` +
        `(${latestSchemaVersion}): migrate with the Weft that wrote it`,
    );
  }
}

/**
 * Other processes holding a POSIX lock on any of the files: every SQLite
 * connection in WAL mode holds one on the database and its -shm while open.
 * Linux only (/proc/locks); elsewhere none are found.
 */
function processesLocking(files: string[]): number[] {
  if (!existsSync('/proc/locks')) return [];
  const wanted = new Set(files.filter((file) => existsSync(file)).map(fileIdentity));
  const pids = new Set<number>();
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    // "1: POSIX  ADVISORY  READ 5313 fe:00:2220225 128 128" (blocked waiters add "->").
    const fields = line.split(/\s+/).filter((field) => field !== '->');
    const pid = Number(fields[4]);
    const [major, minor, inode] = (fields[5] ?? '').split(':');
    if (inode === undefined || pid === process.pid) continue;
    const identity = `${parseInt(major!, 16)}:${parseInt(minor!, 16)}:${inode}`;
    if (wanted.has(identity)) pids.add(pid);
  }
  return [...pids];
}

/** "major:minor:inode" as /proc/locks names a file (Linux's encoding of st_dev). */
function fileIdentity(file: string): string {
  const { dev, ino } = statSync(file);
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  return `${major}:${minor}:${ino}`;
}

// The target.

async function openTarget(url: string): Promise<PgDatabase> {
  try {
    // Creates the schema of this Weft (or finds it there).
    return await PgDatabase.open(url, { poolSize: 2 });
  } catch (err) {
    if (err instanceof SchemaTooNewError) throw new MigrationError(err.message);
    throw new MigrationError(
      `Cannot open the PostgreSQL database ${displayUrl(url)}: ${(err as Error).message}`,
    );
  }
}

/** The URL without its password, for messages. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(an unparsable URL)';
  }
}

async function refuseNonEmpty(target: PgDatabase, plan: TablePlan[]): Promise<void> {
  for (const table of plan) {
    const row = await target.row<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM "${table.name}") AS found`,
    );
    if (row?.found) {
      throw new MigrationError(
        `The PostgreSQL database is not empty (table ${table.name} has rows): ` +
          'migrate into a new, empty database',
      );
    }
  }
}

// The plan: which tables, which columns, in which order.

async function planTables(source: Database.Database, target: PgDatabase): Promise<TablePlan[]> {
  const pgColumns = await targetColumns(target);
  const sequences = new Set(
    (
      await target.rows<{ name: string }>(
        "SELECT relname AS name FROM pg_class WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace",
      )
    ).map((row) => row.name),
  );
  const plans = sourceTables(source).map((name): TablePlan => {
    const columns = source
      .prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`)
      .pluck()
      .all(name) as string[];
    const types = pgColumns.get(name);
    if (!types) throw schemaMismatch(`table ${name} is missing`);
    const pgTypes = columns.map((column) => {
      const type = types.get(column);
      if (!type) throw schemaMismatch(`column ${name}.${column} is missing`);
      return type;
    });
    const sequenceColumns = columns.filter((column) => sequences.has(`${name}_${column}_seq`));
    return { name, columns, pgTypes, sequenceColumns };
  });
  return inForeignKeyOrder(plans, await foreignKeys(target));
}

function sourceTables(source: Database.Database): string[] {
  const names = source
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  return names.filter(
    (name) => !SKIPPED_TABLES.has(name) && !name.startsWith('sqlite_') && !isSearchIndex(name),
  );
}

/**
 * SQLite's search index: an FTS5 table and its shadow tables, which have no
 * PostgreSQL twin; the target's index is rebuilt from the copied events instead.
 */
function isSearchIndex(name: string): boolean {
  return name === 'event_search' || name.startsWith('event_search_');
}

function schemaMismatch(detail: string): MigrationError {
  return new MigrationError(
    `The PostgreSQL schema does not match the SQLite one (${detail}): is it this Weft's?`,
  );
}

/** Table → column → type (e.g. "bigint") of the target's schema. */
async function targetColumns(target: PgDatabase): Promise<Map<string, Map<string, string>>> {
  const rows = await target.rows<{ table_name: string; column_name: string; type: string }>(
    `SELECT c.relname AS table_name, a.attname AS column_name,
            format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
       AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  const tables = new Map<string, Map<string, string>>();
  for (const row of rows) {
    let columns = tables.get(row.table_name);
    if (!columns) tables.set(row.table_name, (columns = new Map()));
    columns.set(row.column_name, row.type);
  }
  return tables;
}

async function foreignKeys(target: PgDatabase): Promise<{ child: string; parent: string }[]> {
  return target.rows(
    `SELECT child.relname AS child, parent.relname AS parent
     FROM pg_constraint k
     JOIN pg_class child ON child.oid = k.conrelid
     JOIN pg_class parent ON parent.oid = k.confrelid
     WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace`,
  );
}

/** Referenced tables before the tables that reference them (a depth-first topological order). */
function inForeignKeyOrder(
  plans: TablePlan[],
  keys: { child: string; parent: string }[],
): TablePlan[] {
  const byName = new Map(plans.map((plan) => [plan.name, plan]));
  const ordered: TablePlan[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string) => {
    if (done.has(name) || visiting.has(name)) return; // a cycle (self-reference): as it comes
    visiting.add(name);
    for (const key of keys) if (key.child === name && key.parent !== name) visit(key.parent);
    visiting.delete(name);
    done.add(name);
    const plan = byName.get(name);
    if (plan) ordered.push(plan);
  };
  for (const plan of plans) visit(plan.name);
  return ordered;
}

// The copy.

async function copyEverything(
  source: Database.Database,
  target: PgDatabase,
  plan: TablePlan[],
  progress: (line: string) => void,
): Promise<void> {
  const client = await target.pool.connect();
  // Changes when another connection commits; read outside the snapshot, where it is current.
  const dataVersion = () => source.pragma('data_version', { simple: true }) as number;
  const versionAtStart = dataVersion();
  try {
    await client.query('BEGIN');
    source.exec('BEGIN'); // One snapshot of every table.
    const reporter = throttledProgress(progress);
    for (const [index, table] of plan.entries()) {
      await copyTable(source, client, table, (copied, total) =>
        reporter(`[${index + 1}/${plan.length}] ${table.name}: ${copied} / ${total} rows`),
      );
    }
    for (const table of plan) await continueSequences(source, client, table);
    progress('Building the search index from the events');
    await client.query(searchBackfillSql());
    source.exec('COMMIT');
    if (dataVersion() !== versionAtStart) {
      throw new MigrationError(
        'Another process wrote to the SQLite database during the copy: stop Weft, then migrate again',
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    if (source.inTransaction) source.exec('ROLLBACK');
    client.release();
  }
}

/** A reporter that lets a line through at most once per interval. */
function throttledProgress(progress: (line: string) => void): (line: string) => void {
  let last = Date.now();
  return (line) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    progress(line);
  };
}

async function copyTable(
  source: Database.Database,
  client: pg.PoolClient,
  table: TablePlan,
  onBatch: (copied: number, total: number) => void,
): Promise<void> {
  const total = source.prepare(`SELECT COUNT(*) FROM "${table.name}"`).pluck().get() as number;
  const columnList = table.columns.map((column) => `"${column}"`).join(', ');
  const arrays = table.pgTypes.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
  // One parameter per column (an array of its values): one statement text per table, any batch size.
  const insert = `INSERT INTO "${table.name}" (${columnList}) SELECT * FROM unnest(${arrays})`;
  const rows = source
    .prepare(`SELECT ${columnList} FROM "${table.name}"`)
    .raw(true)
    // Integers as BigInt: copied exactly, whatever their size.
    .safeIntegers(true);
  let batch = emptyBatch(table);
  let copied = 0;
  for (const row of rows.iterate() as Iterable<unknown[]>) {
    addRow(batch, row);
    if (batch.rows >= BATCH_ROWS || batch.chars >= BATCH_CHARS) {
      await client.query(insert, batch.columns);
      copied += batch.rows;
      onBatch(copied, total);
      batch = emptyBatch(table);
    }
  }
  if (batch.rows > 0) await client.query(insert, batch.columns);
}

interface Batch {
  /** The values of each column, in row order. */
  columns: unknown[][];
  rows: number;
  /** Roughly how much text the batch's parameters hold. */
  chars: number;
}

const emptyBatch = (table: TablePlan): Batch => ({
  columns: table.columns.map(() => []),
  rows: 0,
  chars: 0,
});

function addRow(batch: Batch, row: unknown[]): void {
  row.forEach((value, i) => {
    batch.columns[i]!.push(value);
    if (typeof value === 'string') batch.chars += value.length;
    else if (Buffer.isBuffer(value)) batch.chars += value.length * 2;
  });
  batch.rows += 1;
}

/**
 * Sets each `<table>_<column>_seq` to the highest value the column had:
 * its MAX, or SQLite's AUTOINCREMENT mark when higher (rows deleted since,
 * such as delivered to-device messages, whose positions clients have seen).
 */
async function continueSequences(
  source: Database.Database,
  client: pg.PoolClient,
  table: TablePlan,
): Promise<void> {
  for (const column of table.sequenceColumns) {
    const max = source.prepare(`SELECT MAX("${column}") FROM "${table.name}"`).pluck().get();
    const mark = autoincrementMark(source, table.name);
    const highest = Math.max(Number(max ?? 0), mark);
    if (highest > 0) {
      await client.query('SELECT setval($1, $2)', [`${table.name}_${column}_seq`, highest]);
    }
  }
}

function autoincrementMark(source: Database.Database, table: string): number {
  const hasMarks = source
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
    .get();
  if (!hasMarks) return 0;
  const seq = source.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table);
  return Number(seq ?? 0);
}

// The checks.

async function countRows(
  source: Database.Database,
  target: PgDatabase,
  plan: TablePlan[],
): Promise<TableCount[]> {
  const counts: TableCount[] = [];
  for (const { name } of plan) {
    const sqlite = source.prepare(`SELECT COUNT(*) FROM "${name}"`).pluck().get() as number;
    const row = await target.row<{ count: number }>(`SELECT COUNT(*) AS count FROM "${name}"`);
    counts.push({ table: name, sqlite, postgres: row?.count ?? 0 });
  }
  return counts;
}

interface EventCheckRow {
  event_id: string;
  json: string;
  stream_ordering: number;
  state_group: number;
}

/** Random events read back from both: their JSON, position and state group; the IDs that differ. */
async function compareSampledEvents(
  source: Database.Database,
  target: PgDatabase,
): Promise<{ sampled: number; mismatched: string[] }> {
  const sample = source
    .prepare(
      `SELECT event_id, json, stream_ordering, state_group FROM events WHERE stream_ordering IN
         (SELECT stream_ordering FROM events ORDER BY random() LIMIT ?)`,
    )
    .all(SAMPLED_EVENTS) as EventCheckRow[];
  const copied = await target.rows<EventCheckRow>(
    'SELECT event_id, json, stream_ordering, state_group FROM events WHERE event_id = ANY($1::text[])',
    [sample.map((event) => event.event_id)],
  );
  const byId = new Map(copied.map((event) => [event.event_id, event]));
  const mismatched = sample
    .filter((event) => {
      const other = byId.get(event.event_id);
      return (
        other === undefined ||
        other.json !== event.json ||
        other.stream_ordering !== event.stream_ordering ||
        other.state_group !== event.state_group
      );
    })
    .map((event) => event.event_id);
  return { sampled: sample.length, mismatched };
}

function printSummary(
  options: MigrationOptions,
  counts: TableCount[],
  events: { sampled: number; mismatched: string[] },
  elapsedMs: number,
): void {
  const width = Math.max(...counts.map((count) => count.table.length), 'table'.length);
  options.print(`${'table'.padEnd(width)}  ${'sqlite'.padStart(10)}  ${'postgres'.padStart(10)}`);
  for (const { table, sqlite, postgres } of counts) {
    const flag = sqlite === postgres ? '' : '  MISMATCH';
    options.print(
      `${table.padEnd(width)}  ${String(sqlite).padStart(10)}  ${String(postgres).padStart(10)}${flag}`,
    );
  }
  const badTables = counts.filter((count) => count.sqlite !== count.postgres);
  const rows = counts.reduce((sum, count) => sum + count.sqlite, 0);
  options.print(
    `Sampled events: ${events.sampled}, ${events.mismatched.length === 0 ? 'all identical' : `${events.mismatched.length} differ`}`,
  );
  if (badTables.length > 0 || events.mismatched.length > 0) {
    throw new MigrationError(
      `The copy does not match: ${badTables.length} tables with other row counts` +
        (events.mismatched.length > 0
          ? `, events differ (${events.mismatched.slice(0, 5).join(', ')})`
          : ''),
    );
  }
  options.print(
    `Copied ${rows} rows of ${counts.length} tables to ${displayUrl(options.targetUrl)} in ` +
      `${(elapsedMs / 1000).toFixed(1)} s. Next: set database.backend: postgres and ` +
      'database.url (or WEFT_DATABASE_URL), and keep data_dir (media files, signing key).',
  );
}
