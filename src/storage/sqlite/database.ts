/** Opens the SQLite database (WAL, synchronous writes) and applies migrations. */
import { OperatorError } from '../../util/operator-error.js';
import Database from 'better-sqlite3';
import { latestSchemaVersion, migrations } from './migrations.js';

export type SqliteDatabase = Database.Database;

export class SchemaTooNewError extends OperatorError {}

const WAL_CHECKPOINT_PAGES = 4000;

export function openDatabase(file: string): SqliteDatabase {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL: a write is on disk before we acknowledge it, so even a power cut
  // loses nothing that a client was told had succeeded.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // The commit that takes the WAL past this many pages copies them into the
  // database file (a checkpoint). Pages that every commit rewrites (the ends
  // of the tables and indexes messages append to) are copied once per
  // checkpoint, so fewer, larger checkpoints copy less: from SQLite's 1,000
  // (4 MB) to 4,000 cut the server's CPU per message by 3–15% in the room
  // message bench, and a 16 MB WAL is still small. Each checkpoint stalls
  // the committing thread longer; 16,000 pages gained little more and made
  // the slowest sends slower.
  db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * `db.transaction(fn)`, begun IMMEDIATE: it takes the write lock at once,
 * waiting (busy_timeout) while the other connection commits. Two connections
 * write to this database (the main thread's and the writer thread's, see
 * writer.ts); a DEFERRED transaction that reads first could find its snapshot
 * outdated by the other's commit when it comes to write (SQLITE_BUSY_SNAPSHOT).
 */
export function writeTransaction<A extends unknown[], R>(
  db: SqliteDatabase,
  fn: (...args: A) => R,
): (...args: A) => R {
  return db.transaction(fn).immediate;
}

/**
 * Runs `write` in a transaction committed without waiting for the disk
 * (`synchronous = NORMAL`), for data derived from what is already durable and
 * rebuilt from it after a power cut (push evaluation results with their
 * "evaluated up to" mark). WAL keeps the commit atomic, a process crash loses
 * nothing (the WAL is in the OS's hands), and the next ordinary commit's sync
 * makes it durable too. Everything on the connection is synchronous, so no
 * other transaction runs under the relaxed setting.
 */
export function derivedDataTransaction(db: SqliteDatabase, write: () => void): void {
  db.pragma('synchronous = NORMAL');
  try {
    writeTransaction(db, write)();
  } finally {
    db.pragma('synchronous = FULL');
  }
}

export function schemaVersion(db: SqliteDatabase): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ts INTEGER NOT NULL)',
  );
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as {
    version: number | null;
  };
  return row.version ?? 0;
}

function migrate(db: SqliteDatabase): void {
  const current = schemaVersion(db);
  if (current > latestSchemaVersion) {
    throw new SchemaTooNewError(
      `The database schema is at version ${current}, but this Weft only knows versions up to ` +
        `${latestSchemaVersion}. It was written by a newer Weft: run that version, or restore a backup.`,
    );
  }
  const record = db.prepare('INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)');
  // Every pending migration in one transaction: one disk sync instead of one each (a new
  // database's start-up 120 → 60 ms), and a crash midway leaves the schema as it was.
  writeTransaction(db, () => {
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, Date.now());
    }
  })();
}
