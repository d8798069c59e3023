/**
 * TURN credentials for `GET /voip/turnServer`. With coturn's shared secret
 * (its "TURN REST API"): the username is `<expiry in seconds>:<user ID>` and
 * the password the base64 HMAC-SHA1 of it under the secret, which coturn
 * checks without asking us. Pure but for the clock the caller passes.
 */
import { createHmac } from 'node:crypto';
import type { VoipConfig } from '../config/config.js';

export interface TurnCredentials {
  username: string;
  password: string;
  uris: string[];
  /** Seconds. */
  ttl: number;
}

/** The credentials for a user now; undefined when no TURN server is configured. */
export function turnCredentials(
  voip: VoipConfig,
  userId: string,
  nowMs: number,
): TurnCredentials | undefined {
  if (voip.turn_uris.length === 0) return undefined;
  const ttl = Math.floor(voip.turn_user_lifetime_ms / 1000);
  if (voip.turn_shared_secret !== null) {
    const username = `${Math.floor((nowMs + voip.turn_user_lifetime_ms) / 1000)}:${userId}`;
    const password = createHmac('sha1', voip.turn_shared_secret).update(username).digest('base64');
    return { username, password, uris: voip.turn_uris, ttl };
  }
  if (voip.turn_username !== null && voip.turn_password !== null) {
    return {
      username: voip.turn_username,
      password: voip.turn_password,
      uris: voip.turn_uris,
      ttl,
    };
  }
  return undefined;
}
