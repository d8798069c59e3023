/** Account moderation in PostgreSQL, as in SQLite (sqlite/account-moderation-store.ts). */
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
import type { PgExecutor } from './database.js';

export class PgAccountModerationStore implements AccountModerationStore {
  constructor(private readonly db: PgExecutor) {}

  async setFlags(userId: string, flags: Partial<ModerationFlags>): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE users SET locked = COALESCE($1::bigint, locked),
         suspended = COALESCE($2::bigint, suspended),
         shadow_banned = COALESCE($3::bigint, shadow_banned) WHERE user_id = $4`,
      [...flagValues(flags), userId],
    );
    return changed > 0;
  }

  async setUserType(userId: string, userType: string | null): Promise<boolean> {
    const changed = await this.db.run('UPDATE users SET user_type = $1 WHERE user_id = $2', [
      userType,
      userId,
    ]);
    return changed > 0;
  }

  async getRateLimitOverride(userId: string): Promise<RateLimitOverride | undefined> {
    const row = await this.db.row<RateLimitOverrideRow>(
      'SELECT messages_per_second, burst_count FROM ratelimit_overrides WHERE user_id = $1',
      [userId],
    );
    return row && toRateLimitOverride(row);
  }

  async setRateLimitOverride(userId: string, override: RateLimitOverride): Promise<void> {
    await this.db.run(
      `INSERT INTO ratelimit_overrides (user_id, messages_per_second, burst_count)
       VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET messages_per_second = excluded.messages_per_second,
         burst_count = excluded.burst_count`,
      [userId, override.messagesPerSecond, override.burstCount],
    );
  }

  async deleteRateLimitOverride(userId: string): Promise<void> {
    await this.db.run('DELETE FROM ratelimit_overrides WHERE user_id = $1', [userId]);
  }

  async createPuppetToken(token: PuppetToken): Promise<void> {
    await this.db.run(
      `INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, valid_until_ms)
       VALUES ($1, $2, $3, $4, $5)`,
      [token.tokenHash, token.userId, token.deviceId, token.now, token.validUntilMs],
    );
  }
}

/**
 * The tokens of a user on no device but `keepDeviceId`: after a deletion of
 * all of a user's (other) devices only puppet tokens are left, and they go too
 * (deactivation, logout everywhere). Run inside that transaction.
 */
export async function revokeOtherTokens(
  tx: PgExecutor,
  userId: string,
  keepDeviceId: string | null,
): Promise<string[]> {
  const rows = await tx.rows<{ token_hash: string }>(
    // Device-less tokens only: a device (with its token) a racing session created after this
    // deletion listed the devices is no puppet and stays whole.
    `DELETE FROM access_tokens t WHERE t.user_id = $1 AND t.device_id IS DISTINCT FROM $2
       AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = t.user_id AND d.device_id = t.device_id)
     RETURNING t.token_hash`,
    [userId, keepDeviceId],
  );
  return rows.map((row) => row.token_hash);
}
