/** The openid_tokens table's rows, as both backends read and write them. */
import type { OpenIdTokenRecord } from '../../domain/openid-tokens.js';

/** The columns, in the order the stores bind them. */
export const OPENID_COLUMNS = 'token_hash, user_id, expires_ts';

export interface OpenIdTokenRow {
  token_hash: string;
  user_id: string;
  /** PostgreSQL answers BIGINT as a string. */
  expires_ts: number | string;
}

export function openIdTokenOf(row: OpenIdTokenRow): OpenIdTokenRecord {
  return { tokenHash: row.token_hash, userId: row.user_id, expiresTs: Number(row.expires_ts) };
}
