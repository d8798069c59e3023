/** Opens the backend the config names (database.backend). */
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { Storage } from './storage.js';
import { openSqliteStorage } from './sqlite/sqlite-storage.js';
import { openPostgresStorage } from './postgres/postgres-storage.js';

export function sqliteDatabasePath(config: Config): string {
  return path.join(config.data_dir, 'weft.db');
}

/**
 * SQLite (with its writer thread for the server; a command-line tool's few
 * writes need none), or a PostgreSQL pool.
 */
export async function openStorage(
  config: Config,
  use: 'server' | 'tool' = 'server',
): Promise<Storage> {
  if (config.database.backend === 'postgres') {
    const poolSize = use === 'server' ? config.database.pool_size : 2;
    return openPostgresStorage(config.database.url, { poolSize });
  }
  return openSqliteStorage(sqliteDatabasePath(config), { writerThread: use === 'server' });
}
