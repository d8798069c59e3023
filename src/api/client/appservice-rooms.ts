/**
 * What application services may do differently in the room endpoints:
 * `?ts=` on /send and /state sets the event's origin_server_ts (timestamp
 * massaging, v1.3), for services only; ignored for anyone else, as Synapse.
 */
import type { TokenOwner } from '../../domain/records.js';
import { errors } from '../../protocol/errors.js';
import { localAliasFor } from '../../rooms/directory-service.js';

/** `{ originServerTs }` from a service's `?ts=`, or nothing (no `ts`, or not a service). */
export function serviceTimestamp(owner: TokenOwner, query: unknown): { originServerTs?: number } {
  if (!owner.appService) return {};
  const value = (query as Record<string, unknown> | undefined)?.ts;
  if (value === undefined) return {};
  // Milliseconds since the epoch; the canonical JSON integer range bounds it.
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) {
    throw errors.invalidParam('ts must be a non-negative integer');
  }
  const ts = Number(value);
  if (!Number.isSafeInteger(ts)) throw errors.invalidParam('ts must be a non-negative integer');
  return { originServerTs: ts };
}

/** The alias createRoom's `room_alias_name` would create, for the M_EXCLUSIVE check. */
export function aliasOfCreateRoom(
  roomAliasName: string | undefined,
  serverName: string,
): string | undefined {
  return roomAliasName === undefined ? undefined : localAliasFor(roomAliasName, serverName);
}
