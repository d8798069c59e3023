/**
 * The message rate limit (Synapse's rc_message): one bucket per user for every
 * non-member event they send, with the server's rule unless an admin set the
 * user's own (`override_ratelimit`; 0 and 0: no limit). Overrides are read
 * from storage once per user and kept; the Admin API's writes go through here
 * so the kept value is never stale.
 */
import type { RateLimitRule } from '../config/config.js';
import type { AccountModerationStore, RateLimitOverride } from '../storage/storage.js';
import { LruCache } from '../util/lru-cache.js';
import type { RateLimiter } from './rate-limit.js';

const MAX_CACHED_OVERRIDES = 50_000;

export type RateLimitOverrideStore = Pick<
  AccountModerationStore,
  'getRateLimitOverride' | 'setRateLimitOverride' | 'deleteRateLimitOverride'
>;

export class MessageRateLimit {
  /** Null: the user has no override (the server's rule). */
  private readonly overrides = new LruCache<string, RateLimitOverride | null>(MAX_CACHED_OVERRIDES);
  /** Bumped on every write, so a read that raced with one is not kept. */
  private generation = 0;

  constructor(
    private readonly limiter: RateLimiter,
    private readonly store: RateLimitOverrideStore,
    /** rate_limits.enabled: off, no bucket is kept and no override read. */
    private readonly enabled: boolean,
  ) {}

  /** Takes one message from the user's bucket, or throws 429 M_LIMIT_EXCEEDED. */
  async take(userId: string, now = Date.now()): Promise<void> {
    if (!this.enabled) return;
    const override = await this.override(userId);
    if (override === undefined) return this.limiter.take(userId, now);
    if (override.messagesPerSecond === 0 && override.burstCount === 0) return;
    const rule: RateLimitRule = {
      per_second: override.messagesPerSecond,
      burst_count: override.burstCount,
    };
    this.limiter.take(userId, now, rule);
  }

  async override(userId: string): Promise<RateLimitOverride | undefined> {
    let cached = this.overrides.get(userId);
    if (cached === undefined) {
      const generation = this.generation;
      cached = (await this.store.getRateLimitOverride(userId)) ?? null;
      if (generation === this.generation) this.overrides.set(userId, cached);
    }
    return cached ?? undefined;
  }

  async setOverride(userId: string, override: RateLimitOverride): Promise<void> {
    await this.store.setRateLimitOverride(userId, override);
    this.generation++;
    this.overrides.set(userId, override);
  }

  async deleteOverride(userId: string): Promise<void> {
    await this.store.deleteRateLimitOverride(userId);
    this.generation++;
    this.overrides.set(userId, null);
  }
}
