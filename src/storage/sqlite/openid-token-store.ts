/** OpenID tokens in SQLite: hashes with their expiry. */
import type { OpenIdTokenRecord, OpenIdTokenStore } from '../../domain/openid-tokens.js';
import { OPENID_COLUMNS, openIdTokenOf, type OpenIdTokenRow } from '../common/openid-token-rows.js';
import type { SqliteDatabase } from './database.js';

export class SqliteOpenIdTokenStore implements OpenIdTokenStore {
  private readonly insert;
  private readonly select;
  private readonly prune;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(`INSERT INTO openid_tokens (${OPENID_COLUMNS}) VALUES (?, ?, ?)`);
    this.select = db.prepare(
      `SELECT ${OPENID_COLUMNS} FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?`,
    );
    this.prune = db.prepare('DELETE FROM openid_tokens WHERE expires_ts <= ?');
  }

  async create(record: OpenIdTokenRecord): Promise<void> {
    this.insert.run(record.tokenHash, record.userId, record.expiresTs);
  }

  async find(tokenHash: string, now: number): Promise<OpenIdTokenRecord | undefined> {
    const row = this.select.get(tokenHash, now) as OpenIdTokenRow | undefined;
    return row && openIdTokenOf(row);
  }

  async pruneExpired(now: number): Promise<number> {
    return this.prune.run(now).changes;
  }
}
