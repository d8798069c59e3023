/** Rows of registration_tokens as both backends read them. */
import type { RegistrationToken } from '../../domain/registration-tokens.js';

export interface RegistrationTokenRow {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}

export const TOKEN_COLUMNS = 'token, uses_allowed, pending, completed, expiry_time';

export function toRegistrationToken(row: RegistrationTokenRow): RegistrationToken {
  return {
    token: row.token,
    usesAllowed: row.uses_allowed === null ? null : Number(row.uses_allowed),
    pending: Number(row.pending),
    completed: Number(row.completed),
    expiryTime: row.expiry_time === null ? null : Number(row.expiry_time),
  };
}

export function tokenValues(token: RegistrationToken): unknown[] {
  return [token.token, token.usesAllowed, token.pending, token.completed, token.expiryTime];
}

/**
 * The condition under which a token may take one more use at a time given as
 * parameter `now` (SQL shared by both backends; `now` is spliced in by the caller).
 */
export const usableCondition = (now: string) =>
  `(uses_allowed IS NULL OR pending + completed < uses_allowed)
   AND (expiry_time IS NULL OR expiry_time > ${now})`;
