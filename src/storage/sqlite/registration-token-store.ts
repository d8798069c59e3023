/**
 * Registration tokens in SQLite. A reservation is one IMMEDIATE transaction
 * on the one connection that writes these tables, so two sessions can never
 * both take a token's last use.
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
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqliteRegistrationTokenStore implements RegistrationTokenStore {
  private readonly insert;
  private readonly select;
  private readonly selectAll;
  private readonly setUsesAllowed;
  private readonly setExpiryTime;
  private readonly remove;
  private readonly selectAny;
  private readonly reserveTx;
  private readonly completeTx;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO registration_tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?)`,
    );
    this.select = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM registration_tokens WHERE token = ?`);
    this.selectAll = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM registration_tokens ORDER BY token`);
    this.setUsesAllowed = db.prepare(
      'UPDATE registration_tokens SET uses_allowed = ? WHERE token = ?',
    );
    this.setExpiryTime = db.prepare(
      'UPDATE registration_tokens SET expiry_time = ? WHERE token = ?',
    );
    this.remove = db.prepare('DELETE FROM registration_tokens WHERE token = ?');
    this.selectAny = db.prepare('SELECT 1 FROM registration_tokens LIMIT 1').pluck();
    this.reserveTx = reserveTransaction(db);
    this.completeTx = completeTransaction(db);
  }

  async create(token: RegistrationToken): Promise<boolean> {
    return this.insert.run(...tokenValues(token)).changes === 1;
  }

  async get(token: string): Promise<RegistrationToken | undefined> {
    const row = this.select.get(token) as RegistrationTokenRow | undefined;
    return row && toRegistrationToken(row);
  }

  async list(): Promise<RegistrationToken[]> {
    return (this.selectAll.all() as RegistrationTokenRow[]).map(toRegistrationToken);
  }

  async update(
    token: string,
    changes: { usesAllowed?: number | null; expiryTime?: number | null },
  ): Promise<RegistrationToken | undefined> {
    if (changes.usesAllowed !== undefined) this.setUsesAllowed.run(changes.usesAllowed, token);
    if (changes.expiryTime !== undefined) this.setExpiryTime.run(changes.expiryTime, token);
    return this.get(token);
  }

  async delete(token: string): Promise<boolean> {
    return this.remove.run(token).changes === 1;
  }

  async any(): Promise<boolean> {
    return this.selectAny.get() !== undefined;
  }

  async reserve(
    token: string,
    sessionId: string,
    now: number,
    expiresTs: number,
  ): Promise<TokenReservation> {
    return this.reserveTx(token, sessionId, now, expiresTs);
  }

  async complete(sessionId: string): Promise<void> {
    this.completeTx(sessionId);
  }
}

function reserveTransaction(db: SqliteDatabase) {
  const expired = db.prepare(
    'SELECT session_id, token FROM registration_token_reservations WHERE expires_ts <= ?',
  );
  const release = db.prepare(
    'UPDATE registration_tokens SET pending = pending - 1 WHERE token = ? AND pending > 0',
  );
  const forget = db.prepare('DELETE FROM registration_token_reservations WHERE session_id = ?');
  const held = db.prepare('SELECT 1 FROM registration_token_reservations WHERE session_id = ?');
  const exists = db.prepare('SELECT 1 FROM registration_tokens WHERE token = ?');
  const take = db.prepare(
    `UPDATE registration_tokens SET pending = pending + 1 WHERE token = ? AND ${usableCondition('?')}`,
  );
  const remember = db.prepare(
    'INSERT INTO registration_token_reservations (session_id, token, expires_ts) VALUES (?, ?, ?)',
  );
  return writeTransaction(
    db,
    (token: string, sessionId: string, now: number, expiresTs: number): TokenReservation => {
      for (const row of expired.all(now) as { session_id: string; token: string }[]) {
        release.run(row.token);
        forget.run(row.session_id);
      }
      if (held.get(sessionId)) return 'reserved';
      if (!exists.get(token)) return 'unknown';
      if (take.run(token, now).changes === 0) return 'unusable';
      remember.run(sessionId, token, expiresTs);
      return 'reserved';
    },
  );
}

function completeTransaction(db: SqliteDatabase) {
  const reservation = db
    .prepare('SELECT token FROM registration_token_reservations WHERE session_id = ?')
    .pluck();
  const move = db.prepare(
    `UPDATE registration_tokens SET pending = MAX(pending - 1, 0), completed = completed + 1
     WHERE token = ?`,
  );
  const forget = db.prepare('DELETE FROM registration_token_reservations WHERE session_id = ?');
  return writeTransaction(db, (sessionId: string) => {
    const token = reservation.get(sessionId) as string | undefined;
    if (token === undefined) return;
    move.run(token);
    forget.run(sessionId);
  });
}
