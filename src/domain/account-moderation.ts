/** What the Admin API's user moderation records about an account. Types only. */

/** The moderation flags of a user, as the users table holds them. */
export interface ModerationFlags {
  locked: boolean;
  suspended: boolean;
  shadowBanned: boolean;
}

/** A user's own message rate limit; 0 and 0 mean no limit at all (as Synapse). */
export interface RateLimitOverride {
  messagesPerSecond: number;
  burstCount: number;
}

/** A token an admin was given to act as a user, on no device of theirs. */
export interface PuppetToken {
  userId: string;
  /** Stored with the token; no devices row exists for it, so the user's device list does not show it. */
  deviceId: string;
  tokenHash: string;
  /** After this (ms since the epoch) the token stops working; null: never. */
  validUntilMs: number | null;
  now: number;
}
