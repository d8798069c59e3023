/** Federation keys in SQLite: other servers' verify keys and the responses they came in. */
import type { ServerKeyRecord, ServerKeyStore } from '../storage.js';
import {
  SERVER_KEY_COLUMNS,
  SERVER_KEY_UPSERT,
  serverKeyOf,
  serverKeyParams,
  type ServerKeyRow,
} from '../common/server-key-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqliteServerKeyStore implements ServerKeyStore {
  private readonly store: (records: ServerKeyRecord[]) => void;
  private readonly selectAll;
  private readonly selectSome;

  constructor(db: SqliteDatabase) {
    const upsert = db.prepare(
      `INSERT INTO server_keys (${SERVER_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ${SERVER_KEY_UPSERT}`,
    );
    this.store = writeTransaction(db, (records: ServerKeyRecord[]) => {
      for (const record of records) upsert.run(...serverKeyParams(record));
    });
    this.selectAll = db.prepare(
      `SELECT ${SERVER_KEY_COLUMNS} FROM server_keys WHERE server_name = ? ORDER BY key_id`,
    );
    this.selectSome = db.prepare(
      `SELECT ${SERVER_KEY_COLUMNS} FROM server_keys
       WHERE server_name = ? AND key_id IN (SELECT value FROM json_each(?)) ORDER BY key_id`,
    );
  }

  async storeKeys(records: ServerKeyRecord[]): Promise<void> {
    if (records.length > 0) this.store(records);
  }

  async keysOf(serverName: string, keyIds?: readonly string[]): Promise<ServerKeyRecord[]> {
    const rows = (
      keyIds === undefined
        ? this.selectAll.all(serverName)
        : this.selectSome.all(serverName, JSON.stringify(keyIds))
    ) as ServerKeyRow[];
    return rows.map(serverKeyOf);
  }
}
