/**
 * Registration tokens in PostgreSQL, as in SQLite (registration-token-store.ts
 * there). Taking a use is one UPDATE whose condition the row lock re-checks,
 * so two sessions can never both take a token's last use.
 */
import type {
  RegistrationToken,
  RegistrationTokenStore,
  TokenReservation,
} from '../../domain/registration-tokens.js';
import {
  TOKEN_COLUMNS,
  type RegistrationTokenRow,
  toRegistrationToken,
  tokenValues,
  usableCondition,
} from '../common/registration-token-rows.js';
import type { PgDatabase, PgExecutor } from './database.js';

export class PgRegistrationTokenStore implements RegistrationTokenStore {
  constructor(private readonly db: PgDatabase) {}

  async create(token: RegistrationToken): Promise<boolean> {
    const inserted = await this.db.run(
      `INSERT INTO registration_tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (token) DO NOTHING`,
      tokenValues(token),
    );
    return inserted === 1;
  }

  async get(token: string): Promise<RegistrationToken | undefined> {
    const row = await this.db.row<RegistrationTokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM registration_tokens WHERE token = $1`,
      [token],
    );
    return row && toRegistrationToken(row);
  }

  async list(): Promise<RegistrationToken[]> {
    const rows = await this.db.rows<RegistrationTokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM registration_tokens ORDER BY token`,
    );
    return rows.map(toRegistrationToken);
  }

  async update(
    token: string,
    changes: { usesAllowed?: number | null; expiryTime?: number | null },
  ): Promise<RegistrationToken | undefined> {
    // CASE keeps a field not given; $2/$4 say whether it was.
    const row = await this.db.row<RegistrationTokenRow>(
      `UPDATE registration_tokens SET
         uses_allowed = CASE WHEN $2 THEN $3::bigint ELSE uses_allowed END,
         expiry_time = CASE WHEN $4 THEN $5::bigint ELSE expiry_time END
       WHERE token = $1 RETURNING ${TOKEN_COLUMNS}`,
      [
        token,
        changes.usesAllowed !== undefined,
        changes.usesAllowed ?? null,
        changes.expiryTime !== undefined,
        changes.expiryTime ?? null,
      ],
    );
    return row && toRegistrationToken(row);
  }

  async delete(token: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM registration_tokens WHERE token = $1', [token])) === 1;
  }

  async any(): Promise<boolean> {
    return (await this.db.row('SELECT 1 FROM registration_tokens LIMIT 1')) !== undefined;
  }

  async reserve(
    token: string,
    sessionId: string,
    now: number,
    expiresTs: number,
  ): Promise<TokenReservation> {
    return this.db.transaction(async (tx) => {
      await releaseExpired(tx, now);
      const held = await tx.row(
        'SELECT 1 FROM registration_token_reservations WHERE session_id = $1',
        [sessionId],
      );
      if (held) return 'reserved';
      const taken = await tx.run(
        `UPDATE registration_tokens SET pending = pending + 1
         WHERE token = $1 AND ${usableCondition('$2')}`,
        [token, now],
      );
      if (taken === 0) {
        const exists = await tx.row('SELECT 1 FROM registration_tokens WHERE token = $1', [token]);
        return exists ? 'unusable' : 'unknown';
      }
      await tx.run(
        `INSERT INTO registration_token_reservations (session_id, token, expires_ts)
         VALUES ($1, $2, $3)`,
        [sessionId, token, expiresTs],
      );
      return 'reserved';
    });
  }

  async complete(sessionId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const gone = await tx.row<{ token: string }>(
        'DELETE FROM registration_token_reservations WHERE session_id = $1 RETURNING token',
        [sessionId],
      );
      if (!gone) return;
      await tx.run(
        `UPDATE registration_tokens SET pending = GREATEST(pending - 1, 0), completed = completed + 1
         WHERE token = $1`,
        [gone.token],
      );
    });
  }
}

/** Expired sessions' pending uses given back; DELETE ... RETURNING claims each once. */
async function releaseExpired(tx: PgExecutor, now: number): Promise<void> {
  const released = await tx.rows<{ token: string }>(
    'DELETE FROM registration_token_reservations WHERE expires_ts <= $1 RETURNING token',
    [now],
  );
  for (const { token } of released) {
    await tx.run(
      'UPDATE registration_tokens SET pending = pending - 1 WHERE token = $1 AND pending > 0',
      [token],
    );
  }
}
