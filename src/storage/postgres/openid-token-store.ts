/** OpenID tokens in PostgreSQL, as in SQLite (sqlite/openid-token-store.ts). */
import type { OpenIdTokenRecord, OpenIdTokenStore } from '../../domain/openid-tokens.js';
import { OPENID_COLUMNS, openIdTokenOf, type OpenIdTokenRow } from '../common/openid-token-rows.js';
import type { PgDatabase } from './database.js';

export class PgOpenIdTokenStore implements OpenIdTokenStore {
  constructor(private readonly db: PgDatabase) {}

  async create(record: OpenIdTokenRecord): Promise<void> {
    await this.db.run(`INSERT INTO openid_tokens (${OPENID_COLUMNS}) VALUES ($1, $2, $3)`, [
      record.tokenHash,
      record.userId,
      record.expiresTs,
    ]);
  }

  async find(tokenHash: string, now: number): Promise<OpenIdTokenRecord | undefined> {
    const row = await this.db.row<OpenIdTokenRow>(
      `SELECT ${OPENID_COLUMNS} FROM openid_tokens WHERE token_hash = $1 AND expires_ts > $2`,
      [tokenHash, now],
    );
    return row && openIdTokenOf(row);
  }

  async pruneExpired(now: number): Promise<number> {
    return this.db.run('DELETE FROM openid_tokens WHERE expires_ts <= $1', [now]);
  }
}
