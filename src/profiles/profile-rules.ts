/**
 * The rules of profiles, pure: key names, values, and the size limits of the
 * spec (a key over 255 bytes, a whole profile over 64 KiB).
 */
import { errors, MatrixError } from '../protocol/errors.js';

export type ProfileFields = Record<string, unknown>;

export const DISPLAYNAME = 'displayname';
export const AVATAR_URL = 'avatar_url';
export const TIME_ZONE = 'm.tz';

export const MAX_KEY_BYTES = 255;
export const MAX_PROFILE_BYTES = 64 * 1024;
/** Synapse's limit on display names (in characters). */
export const MAX_DISPLAYNAME_LENGTH = 256;

/** The spec's key grammar: the three defined keys, or a namespaced identifier. */
const KEY_GRAMMAR = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

/** The keys member events and presence carry: a change to them is propagated. */
export function isPropagatedKey(key: string): boolean {
  return key === DISPLAYNAME || key === AVATAR_URL;
}

/** 400 M_KEY_TOO_LARGE for a key over 255 bytes, M_INVALID_PARAM for one outside the grammar. */
export function checkKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new MatrixError(
      400,
      'M_KEY_TOO_LARGE',
      `Profile keys are at most ${MAX_KEY_BYTES} bytes`,
    );
  }
  if (!KEY_GRAMMAR.test(key)) throw errors.invalidParam(`Invalid profile key: ${key}`);
}

/** The value a PUT body gives for `key`: the defined keys are strings, custom ones any JSON. */
export function valueFromBody(key: string, body: Record<string, unknown>): unknown {
  if (!Object.hasOwn(body, key)) throw errors.missingParam(key);
  const value = body[key];
  if (key === DISPLAYNAME || key === AVATAR_URL || key === TIME_ZONE) {
    if (typeof value !== 'string') throw errors.badJson(`${key} must be a string`);
  }
  if (
    key === DISPLAYNAME &&
    value !== '' &&
    [...(value as string)].length > MAX_DISPLAYNAME_LENGTH
  ) {
    throw errors.badJson(`displayname is longer than ${MAX_DISPLAYNAME_LENGTH} characters`);
  }
  if (key === AVATAR_URL && value !== '' && !isMxcUri(value as string)) {
    throw errors.badJson('avatar_url must be an mxc:// URI');
  }
  return value;
}

function isMxcUri(value: string): boolean {
  return /^mxc:\/\/[^/]+\/[A-Za-z0-9_-]+$/.test(value);
}

/** The profile with `key` set to `value`; 400 M_PROFILE_TOO_LARGE if it then exceeds 64 KiB. */
export function withField(fields: ProfileFields, key: string, value: unknown): ProfileFields {
  const updated = { ...fields, [key]: value };
  if (Buffer.byteLength(JSON.stringify(updated)) > MAX_PROFILE_BYTES) {
    throw new MatrixError(
      400,
      'M_PROFILE_TOO_LARGE',
      `Profiles are at most ${MAX_PROFILE_BYTES} bytes`,
    );
  }
  return updated;
}

export function withoutField(fields: ProfileFields, key: string): ProfileFields {
  const updated = { ...fields };
  delete updated[key];
  return updated;
}
