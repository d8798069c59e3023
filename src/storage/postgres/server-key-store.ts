/** Federation keys in PostgreSQL, as in SQLite (sqlite/server-key-store.ts). */
import type { ServerKeyRecord, ServerKeyStore } from '../storage.js';
import {
  SERVER_KEY_COLUMNS,
  SERVER_KEY_UPSERT,
  serverKeyOf,
  serverKeyParams,
  type ServerKeyRow,
} from '../common/server-key-rows.js';
import type { PgDatabase } from './database.js';

const UPSERT = `INSERT INTO server_keys (${SERVER_KEY_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7) ${SERVER_KEY_UPSERT}`;

export class PgServerKeyStore implements ServerKeyStore {
  constructor(private readonly db: PgDatabase) {}

  async storeKeys(records: ServerKeyRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One statement per key: a batch may name a key twice (two responses for one server).
    await this.db.transaction(async (tx) => {
      for (const record of records) await tx.run(UPSERT, serverKeyParams(record));
    });
  }

  async keysOf(serverName: string, keyIds?: readonly string[]): Promise<ServerKeyRecord[]> {
    const rows =
      keyIds === undefined
        ? await this.db.rows<ServerKeyRow>(
            `SELECT ${SERVER_KEY_COLUMNS} FROM server_keys WHERE server_name = $1
             ORDER BY key_id COLLATE "C"`,
            [serverName],
          )
        : await this.db.rows<ServerKeyRow>(
            `SELECT ${SERVER_KEY_COLUMNS} FROM server_keys
             WHERE server_name = $1 AND key_id = ANY($2::text[]) ORDER BY key_id COLLATE "C"`,
            [serverName, keyIds],
          );
    return rows.map(serverKeyOf);
  }
}
