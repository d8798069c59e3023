/**
 * Rows of account moderation as both backends read them: the token lookup,
 * which brings the user's moderation flags along in the same statement (it is
 * on every uncached request's path), and rate limit overrides.
 */
import type { RateLimitOverride, TokenOwner } from '../storage.js';

/** The columns of `access_tokens t JOIN users u` a TokenOwnerRow holds. */
export const TOKEN_OWNER_COLUMNS = `t.user_id, t.device_id, u.is_guest, u.locked, u.suspended,
  u.shadow_banned, t.valid_until_ms`;

export interface TokenOwnerRow {
  user_id: string;
  device_id: string;
  is_guest: number;
  locked: number;
  suspended: number;
  shadow_banned: number;
  valid_until_ms: number | null;
}

export function toTokenOwner(row: TokenOwnerRow): TokenOwner {
  const owner: TokenOwner = {
    userId: row.user_id,
    deviceId: row.device_id,
    isGuest: row.is_guest === 1,
    locked: row.locked === 1,
    suspended: row.suspended === 1,
    shadowBanned: row.shadow_banned === 1,
  };
  if (row.valid_until_ms !== null) owner.validUntilMs = row.valid_until_ms;
  return owner;
}

export interface RateLimitOverrideRow {
  messages_per_second: number;
  burst_count: number;
}

export const toRateLimitOverride = (row: RateLimitOverrideRow): RateLimitOverride => ({
  messagesPerSecond: row.messages_per_second,
  burstCount: row.burst_count,
});

/** A flags update's values for `SET_FLAGS_SQL`'s placeholders: null keeps the flag as it is. */
export function flagValues(flags: {
  locked?: boolean;
  suspended?: boolean;
  shadowBanned?: boolean;
}): (number | null)[] {
  const value = (flag: boolean | undefined) => (flag === undefined ? null : flag ? 1 : 0);
  return [value(flags.locked), value(flags.suspended), value(flags.shadowBanned)];
}
