/**
 * The rules of the Admin API's room deletion, blocking and history purge that
 * need no storage: reading the request bodies and shaping the status answers
 * as Synapse's Admin API does (docs/admin_api/rooms.md, purge_history_api.md).
 * Pure.
 */
import type { AdminJob } from '../domain/admin-jobs.js';
import { errors } from '../protocol/errors.js';
import { type JsonObject, optionalBoolean, optionalString } from '../protocol/params.js';

/** Synapse's defaults for the room the deleted room's members are moved to. */
export const DEFAULT_NEW_ROOM_NAME = 'Content Violation Notification';
export const DEFAULT_SHUTDOWN_MESSAGE =
  'Sharing illegal content on this server is not permitted and rooms in violation will be blocked.';

/** What `DELETE /_synapse/admin/v{1,2}/rooms/{roomId}` asks for (stored as the job's params). */
export interface RoomDeletion {
  block: boolean;
  purge: boolean;
  forcePurge: boolean;
  newRoomUserId?: string;
  roomName: string;
  message: string;
  /** The admin who asked (the block's user_id). */
  requesterId: string;
}

/** The deletion's outcome as Synapse reports it (`shutdown_room`). */
export interface ShutdownResult {
  kicked_users: string[];
  failed_to_kick_users: string[];
  local_aliases: string[];
  new_room_id: string | null;
}

export function emptyShutdownResult(): ShutdownResult {
  return { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null };
}

/**
 * Reads the body; Synapse requires one (at least `{}`). `purge` defaults to
 * true, `block` and `force_purge` to false; `new_room_user_id` must be local.
 */
export function parseRoomDeletion(
  body: JsonObject,
  requesterId: string,
  serverName: string,
): RoomDeletion {
  const newRoomUserId = optionalString(body, 'new_room_user_id');
  if (newRoomUserId !== undefined && !isLocalUserId(newRoomUserId, serverName)) {
    throw errors.invalidParam(`User must be our own: ${newRoomUserId}`);
  }
  const deletion: RoomDeletion = {
    block: optionalBoolean(body, 'block') ?? false,
    purge: optionalBoolean(body, 'purge') ?? true,
    forcePurge: optionalBoolean(body, 'force_purge') ?? false,
    roomName: optionalString(body, 'room_name') ?? DEFAULT_NEW_ROOM_NAME,
    message: optionalString(body, 'message') ?? DEFAULT_SHUTDOWN_MESSAGE,
    requesterId,
  };
  if (newRoomUserId !== undefined) deletion.newRoomUserId = newRoomUserId;
  return deletion;
}

/** The job's params back as a RoomDeletion (written by parseRoomDeletion). */
export function roomDeletionOf(job: AdminJob): RoomDeletion {
  return job.params as unknown as RoomDeletion;
}

export function shutdownResultOf(job: AdminJob): ShutdownResult {
  return { ...emptyShutdownResult(), ...(job.result as Partial<ShutdownResult> | null) };
}

/** `{block: bool}`, the body of PUT …/block. */
export function parseBlockBody(body: JsonObject): boolean {
  const block = body.block;
  if (block === undefined || block === null) throw errors.missingParam('block');
  if (typeof block !== 'boolean') throw errors.badJson('block must be a boolean');
  return block;
}

/** Where a history purge stops: before an event, or before a time. */
export type PurgePoint = { eventId: string } | { ts: number };

export interface HistoryPurgeRequest {
  point: PurgePoint;
  deleteLocalEvents: boolean;
}

/**
 * Reads `POST purge_history/{roomId}[/{eventId}]`: the event in the path wins,
 * then `purge_up_to_event_id`, then `purge_up_to_ts` (as Synapse). Local
 * events are kept unless `delete_local_events`.
 */
export function parseHistoryPurge(
  body: JsonObject,
  pathEventId: string | undefined,
): HistoryPurgeRequest {
  const deleteLocalEvents = optionalBoolean(body, 'delete_local_events') ?? false;
  const eventId = pathEventId ?? optionalString(body, 'purge_up_to_event_id');
  if (eventId !== undefined) return { point: { eventId }, deleteLocalEvents };
  const ts = body.purge_up_to_ts;
  if (ts === undefined || ts === null) {
    throw errors.missingParam('purge_up_to_event_id or purge_up_to_ts');
  }
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    throw errors.invalidParam('purge_up_to_ts must be a non-negative integer');
  }
  return { point: { ts }, deleteLocalEvents };
}

/** One deletion as the delete_status endpoints show it. */
export interface DeleteStatusJson {
  delete_id: string;
  room_id: string;
  status: AdminJob['status'];
  error?: string;
  shutdown_room: ShutdownResult;
}

export function deleteStatusJson(job: AdminJob): DeleteStatusJson {
  const json: DeleteStatusJson = {
    delete_id: job.id,
    room_id: job.roomId,
    status: job.status,
    shutdown_room: shutdownResultOf(job),
  };
  // Synapse shows `error` only for a failed task.
  if (job.status === 'failed' && job.error !== null) json.error = job.error;
  return json;
}

/**
 * A purge as purge_history_status shows it: Synapse's purges know only
 * active, complete and failed, so a purge waiting to start is active.
 */
export function purgeStatusJson(job: AdminJob): { status: string; error?: string } {
  const status = job.status === 'scheduled' ? 'active' : job.status;
  if (status === 'failed') return { status, error: job.error ?? 'Purge failed' };
  return { status };
}

function isLocalUserId(userId: string, serverName: string): boolean {
  return userId.startsWith('@') && userId.endsWith(`:${serverName}`) && userId.length > 2;
}
