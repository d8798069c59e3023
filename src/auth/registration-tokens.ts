/**
 * The rules of registration tokens (m.login.registration_token) kept in the
 * database: the token grammar, when a token is usable, the Admin API's bodies
 * and the token objects it answers. Pure. Synapse's registration_tokens admin
 * API is the model where the spec is silent (it defines only the UIA stage and
 * the validity endpoint).
 */
import { randomInt } from 'node:crypto';
import { errors } from '../protocol/errors.js';
import type { JsonObject } from '../protocol/params.js';
import type { RegistrationToken } from '../domain/registration-tokens.js';

/** The spec's grammar for a registration token (the UIA stage's `token`). */
export const TOKEN_GRAMMAR = /^[A-Za-z0-9._~-]{1,64}$/;
const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-';
export const DEFAULT_GENERATED_LENGTH = 16;
export const MAX_TOKEN_LENGTH = 64;

/** A token is usable while it has uses left (pending ones count) and has not expired. */
export function isUsable(token: RegistrationToken, now: number): boolean {
  const usesLeft =
    token.usesAllowed === null || token.pending + token.completed < token.usesAllowed;
  return usesLeft && (token.expiryTime === null || token.expiryTime > now);
}

/** A random token of `length` characters from the whole grammar, as Synapse generates them. */
export function generateToken(length: number): string {
  let token = '';
  for (let i = 0; i < length; i++) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return token;
}

/** What `POST /registration_tokens/new` asks for. */
export interface NewTokenRequest {
  /** Absent: generate one of `length` characters. */
  token?: string;
  length: number;
  usesAllowed: number | null;
  expiryTime: number | null;
}

export function parseNewToken(body: JsonObject, now: number): NewTokenRequest {
  const request: NewTokenRequest = {
    length: DEFAULT_GENERATED_LENGTH,
    usesAllowed: usesAllowed(body.uses_allowed),
    expiryTime: expiryTime(body.expiry_time, now),
  };
  if (body.token !== undefined) {
    if (typeof body.token !== 'string' || !TOKEN_GRAMMAR.test(body.token)) {
      throw errors.invalidParam(
        'token must consist of 1 to 64 characters of A-Z, a-z, 0-9, ".", "_", "~" and "-"',
      );
    }
    request.token = body.token;
  } else if (body.length !== undefined) {
    // Synapse reads `length` only when no token is given.
    if (!isInteger(body.length) || body.length < 1 || body.length > MAX_TOKEN_LENGTH) {
      throw errors.invalidParam('length must be an integer from 1 to 64');
    }
    request.length = body.length;
  }
  return request;
}

/** What `PUT /registration_tokens/{token}` changes; absent fields are kept. */
export interface TokenChanges {
  usesAllowed?: number | null;
  expiryTime?: number | null;
}

export function parseTokenChanges(body: JsonObject, now: number): TokenChanges {
  const changes: TokenChanges = {};
  if (Object.hasOwn(body, 'uses_allowed')) changes.usesAllowed = usesAllowed(body.uses_allowed);
  if (Object.hasOwn(body, 'expiry_time')) changes.expiryTime = expiryTime(body.expiry_time, now);
  return changes;
}

/** `?valid=true|false` of the list; undefined lists every token. */
export function parseValidFilter(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw errors.invalidParam('valid must be true or false');
}

/** The token object of Synapse's Admin API. */
export function tokenJson(token: RegistrationToken): Record<string, unknown> {
  return {
    token: token.token,
    uses_allowed: token.usesAllowed,
    pending: token.pending,
    completed: token.completed,
    expiry_time: token.expiryTime,
  };
}

function usesAllowed(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (!isInteger(value) || value < 0) {
    throw errors.invalidParam('uses_allowed must be a non-negative integer or null');
  }
  return value;
}

/** As Synapse: an expiry already in the past is refused. */
function expiryTime(value: unknown, now: number): number | null {
  if (value === undefined || value === null) return null;
  if (!isInteger(value)) throw errors.invalidParam('expiry_time must be an integer or null');
  if (value < now) throw errors.invalidParam('expiry_time must not be in the past');
  return value;
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
