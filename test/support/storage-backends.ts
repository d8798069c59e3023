/**
 * The storage backends the contract tests (test/storage/) run against: SQLite
 * always, PostgreSQL when a cluster is there (WEFT_TEST_POSTGRES_URL, an admin
 * URL; scripts/run-tests.mjs starts a throw-away cluster when PostgreSQL is
 * installed). Each test gets a fresh database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Storage } from '../../src/storage/storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { openPostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { createPostgresDatabase, postgresAdminUrl } from './postgres.js';

export { createPostgresDatabase, postgresAdminUrl };

export interface TestDatabase {
  /** Opens the storage on this database (again after `close`, to test what persists). */
  open(): Promise<Storage>;
  /** Deletes the database. */
  drop(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
}

const sqlite: Backend = {
  name: 'sqlite',
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-storage-'));
    return {
      open: async () => openSqliteStorage(join(dir, 'weft.db'), { writerThread: true }),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgres: Backend = {
  name: 'postgres',
  create: async () => {
    const database = await createPostgresDatabase(postgresAdminUrl()!);
    return {
      open: () => openPostgresStorage(database.url, { poolSize: 8 }),
      drop: database.drop,
    };
  },
};

/** The backends to run against here; PostgreSQL is skipped (with a note) when no cluster is set. */
export function storageBackends(): Backend[] {
  return postgresAdminUrl() ? [sqlite, postgres] : [sqlite];
}

/**
 * Opens a fresh storage for one test and closes and drops it after: `use`
 * gets the storage and a `reopen` that closes it and opens it again.
 */
export async function withStorage(
  backend: Backend,
  use: (storage: Storage, reopen: () => Promise<Storage>) => Promise<void>,
): Promise<void> {
  const database = await backend.create();
  let storage = await database.open();
  try {
    await use(storage, async () => {
      await storage.close();
      storage = await database.open();
      return storage;
    });
  } finally {
    await storage.close();
    await database.drop();
  }
}
