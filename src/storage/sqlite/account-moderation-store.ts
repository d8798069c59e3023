/** Account moderation in SQLite: flags on users, rate limit overrides, puppet tokens. */
import type {
  AccountModerationStore,
  ModerationFlags,
  PuppetToken,
  RateLimitOverride,
} from '../storage.js';
import {
  flagValues,
  type RateLimitOverrideRow,
  toRateLimitOverride,
} from '../common/account-moderation-rows.js';
import type { SqliteDatabase } from './database.js';

export class SqliteAccountModerationStore implements AccountModerationStore {
  private readonly selectOverride;
  private readonly upsertOverride;
  private readonly removeOverride;
  private readonly insertToken;
  private readonly updateFlags;
  private readonly updateUserType;

  constructor(db: SqliteDatabase) {
    this.updateFlags = db.prepare(
      `UPDATE users SET locked = COALESCE(?, locked), suspended = COALESCE(?, suspended),
         shadow_banned = COALESCE(?, shadow_banned) WHERE user_id = ?`,
    );
    this.updateUserType = db.prepare('UPDATE users SET user_type = ? WHERE user_id = ?');
    this.selectOverride = db.prepare(
      'SELECT messages_per_second, burst_count FROM ratelimit_overrides WHERE user_id = ?',
    );
    this.upsertOverride = db.prepare(
      `INSERT INTO ratelimit_overrides (user_id, messages_per_second, burst_count) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET messages_per_second = excluded.messages_per_second,
         burst_count = excluded.burst_count`,
    );
    this.removeOverride = db.prepare('DELETE FROM ratelimit_overrides WHERE user_id = ?');
    this.insertToken = db.prepare(
      `INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, valid_until_ms)
       VALUES (?, ?, ?, ?, ?)`,
    );
  }

  async setFlags(userId: string, flags: Partial<ModerationFlags>): Promise<boolean> {
    return this.updateFlags.run(...flagValues(flags), userId).changes > 0;
  }

  async setUserType(userId: string, userType: string | null): Promise<boolean> {
    return this.updateUserType.run(userType, userId).changes > 0;
  }

  async getRateLimitOverride(userId: string): Promise<RateLimitOverride | undefined> {
    const row = this.selectOverride.get(userId) as RateLimitOverrideRow | undefined;
    return row && toRateLimitOverride(row);
  }

  async setRateLimitOverride(userId: string, override: RateLimitOverride): Promise<void> {
    this.upsertOverride.run(userId, override.messagesPerSecond, override.burstCount);
  }

  async deleteRateLimitOverride(userId: string): Promise<void> {
    this.removeOverride.run(userId);
  }

  async createPuppetToken(token: PuppetToken): Promise<void> {
    this.insertToken.run(
      token.tokenHash,
      token.userId,
      token.deviceId,
      token.now,
      token.validUntilMs,
    );
  }
}

/**
 * The tokens of a user on no device but `keepDeviceId`: after a deletion of
 * all of a user's (other) devices only puppet tokens are left, and they go too
 * (deactivation, logout everywhere). Must run inside that transaction.
 */
export function otherTokenRevoker(
  db: SqliteDatabase,
): (userId: string, keepDeviceId: string | null) => string[] {
  const revoke = db
    .prepare(
      'DELETE FROM access_tokens WHERE user_id = ? AND device_id IS NOT ? RETURNING token_hash',
    )
    .pluck();
  return (userId, keepDeviceId) => revoke.all(userId, keepDeviceId) as string[];
}
