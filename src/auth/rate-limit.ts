/** Token-bucket rate limiting, keyed by whatever the caller chooses (IP, account). */
import type { RateLimitRule } from '../config/config.js';
import { errors } from '../protocol/errors.js';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

const MAX_BUCKETS = 100_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rule: RateLimitRule,
    private readonly enabled: boolean,
  ) {}

  /**
   * Takes one token for `key`, or throws 429 M_LIMIT_EXCEEDED saying when to retry.
   * `rule`: this key's own rule instead of the limiter's (an admin's override).
   */
  take(key: string, now = Date.now(), rule = this.rule): void {
    const retryAfterMs = this.tryTake(key, now, rule);
    if (retryAfterMs > 0) throw errors.limitExceeded(retryAfterMs);
  }

  /** 0 when a token was taken, else how many milliseconds until one is available. */
  tryTake(key: string, now = Date.now(), rule = this.rule): number {
    if (!this.enabled) return 0;
    const bucket = this.refill(key, now, rule);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / rule.per_second) * 1000);
  }

  /** Would a request for `key` be refused now? Takes nothing. */
  check(key: string, now = Date.now()): void {
    if (!this.enabled) return;
    const bucket = this.refill(key, now);
    if (bucket.tokens < 1) {
      throw errors.limitExceeded(Math.ceil(((1 - bucket.tokens) / this.rule.per_second) * 1000));
    }
  }

  private refill(key: string, now: number, rule = this.rule): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.dropFullBuckets(now);
      bucket = { tokens: rule.burst_count, updatedMs: now };
      this.buckets.set(key, bucket);
    }
    const elapsedSeconds = Math.max(0, now - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(rule.burst_count, bucket.tokens + elapsedSeconds * rule.per_second);
    bucket.updatedMs = now;
    return bucket;
  }

  /** A full bucket is the same as no bucket: forget those to bound memory. */
  private dropFullBuckets(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const tokens = bucket.tokens + ((now - bucket.updatedMs) / 1000) * this.rule.per_second;
      if (tokens >= this.rule.burst_count) this.buckets.delete(key);
    }
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}
