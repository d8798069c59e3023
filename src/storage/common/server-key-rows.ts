/** The server_keys table's rows (federation keys), as both backends read and write them. */
import type { JsonObject } from '../../events/pdu.js';
import type { ServerKeyRecord } from '../storage.js';

/** The columns, in the order the stores bind them. */
export const SERVER_KEY_COLUMNS =
  'server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts, response_json';

/**
 * The upsert's tail: a key is replaced only by a response at least as recent
 * as the one it came in (servers date their responses by valid_until_ts).
 */
export const SERVER_KEY_UPSERT = `ON CONFLICT (server_name, key_id) DO UPDATE SET
    public_key = excluded.public_key, valid_until_ts = excluded.valid_until_ts,
    expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts,
    response_json = excluded.response_json
  WHERE excluded.valid_until_ts >= server_keys.valid_until_ts`;

export interface ServerKeyRow {
  server_name: string;
  key_id: string;
  public_key: string;
  /** PostgreSQL answers BIGINT as a string. */
  valid_until_ts: number | string;
  expired_ts: number | string | null;
  fetched_ts: number | string;
  response_json: string;
}

export function serverKeyParams(record: ServerKeyRecord): unknown[] {
  return [
    record.serverName,
    record.keyId,
    record.publicKey,
    record.validUntilTs,
    record.expiredTs,
    record.fetchedTs,
    JSON.stringify(record.response),
  ];
}

export function serverKeyOf(row: ServerKeyRow): ServerKeyRecord {
  return {
    serverName: row.server_name,
    keyId: row.key_id,
    publicKey: row.public_key,
    validUntilTs: Number(row.valid_until_ts),
    expiredTs: row.expired_ts === null ? null : Number(row.expired_ts),
    fetchedTs: Number(row.fetched_ts),
    response: JSON.parse(row.response_json) as JsonObject,
  };
}
