/**
 * The rules of the Admin API's user moderation that need no storage: the
 * bodies of lock, suspend, shadow-ban, rate limit override and login-as
 * requests, and the objects answered. Synapse's Admin API is the model where
 * the spec (which has only lock and suspend) is silent. Pure.
 */
import type { RateLimitOverride } from '../domain/account-moderation.js';
import type { PusherRecord } from '../domain/records.js';
import { errors } from '../protocol/errors.js';
import type { JsonObject } from '../protocol/params.js';

/** A required boolean field (the spec's `{locked}`, `{suspended}`; Synapse's `{suspend}`). */
export function requiredFlag(body: JsonObject, key: string): boolean {
  const value = body[key];
  if (value === undefined || value === null) throw errors.missingParam(key);
  if (typeof value !== 'boolean') throw errors.badJson(`'${key}' must be a boolean`);
  return value;
}

/**
 * `POST override_ratelimit`: both fields optional, default 0 (as Synapse), each
 * a non-negative integer; 0 and 0 lift the limit.
 */
export function parseRateLimitOverride(body: JsonObject): RateLimitOverride {
  return {
    messagesPerSecond: nonNegativeInteger(body, 'messages_per_second'),
    burstCount: nonNegativeInteger(body, 'burst_count'),
  };
}

function nonNegativeInteger(body: JsonObject, key: string): number {
  const value = body[key];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw errors.invalidParam(`${key} must be a positive integer`);
  }
  return value;
}

export const rateLimitOverrideJson = (override: RateLimitOverride | undefined) =>
  override === undefined
    ? {}
    : { messages_per_second: override.messagesPerSecond, burst_count: override.burstCount };

/** `POST users/{userId}/login`'s `valid_until_ms`: absent or null, a token that never expires. */
export function parseValidUntil(body: JsonObject, now: number): number | null {
  const value = body.valid_until_ms;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw errors.invalidParam("'valid_until_ms' parameter must be an int");
  }
  if (value < now) throw errors.invalidParam("'valid_until_ms' is in the past");
  return value;
}

/** Synapse's user types; `PUT v2/users` refuses others (Synapse also allows configured extra ones). */
export const USER_TYPES = ['bot', 'support'];

/** A pusher as Synapse's `GET users/{userId}/pushers` lists it. */
export function adminPusherJson(pusher: PusherRecord) {
  return {
    app_display_name: pusher.appDisplayName,
    app_id: pusher.appId,
    data: pusher.data,
    device_display_name: pusher.deviceDisplayName,
    kind: pusher.kind,
    lang: pusher.lang,
    profile_tag: pusher.profileTag ?? '',
    pushkey: pusher.pushkey,
  };
}
