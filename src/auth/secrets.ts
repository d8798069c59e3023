/** Random identifiers and secrets: access tokens, device IDs, session IDs. */
import { hash, randomBytes, randomInt } from 'node:crypto';

/** Prefix that lets secret scanners recognise a leaked Weft access token. */
export const ACCESS_TOKEN_PREFIX = 'wft_';

/** 192 bits from the CSPRNG, URL-safe. */
export function generateAccessToken(): string {
  return ACCESS_TOKEN_PREFIX + randomBytes(24).toString('base64url');
}

/** Tokens are stored and cached only as this hash, never in clear. */
export function hashToken(token: string): string {
  // One-shot crypto.hash: half the cost of createHash() on this per-request path.
  return hash('sha256', token, 'base64url');
}

const DEVICE_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Ten upper-case letters, as Synapse generates them. */
export function generateDeviceId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += DEVICE_ID_ALPHABET[randomInt(DEVICE_ID_ALPHABET.length)];
  return id;
}

export function generateSessionId(): string {
  return randomBytes(18).toString('base64url');
}
