/**
 * The Admin API's background jobs (room deletion, history purges) as storage
 * holds them: a row is written before the request is answered and carries the
 * job's progress, so a restart resumes what a crash cut short.
 */

export type AdminJobKind = 'room_delete' | 'purge_history';

/** Synapse's statuses (delete_status, purge_history_status). */
export type AdminJobStatus = 'scheduled' | 'active' | 'complete' | 'failed';

export interface AdminJob {
  id: string;
  kind: AdminJobKind;
  roomId: string;
  /** What the request asked for (the kind's own parameters, as JSON). */
  params: Record<string, unknown>;
  status: AdminJobStatus;
  error: string | null;
  /** What the job did so far or in the end (e.g. shutdown_room), as JSON. */
  result: Record<string, unknown> | null;
  createdTs: number;
  updatedTs: number;
}

export interface AdminJobUpdate {
  status: AdminJobStatus;
  error?: string | null;
  result?: Record<string, unknown> | null;
}

/** A room refused to this server's users (joins), and the admin who blocked it. */
export interface RoomBlock {
  roomId: string;
  userId: string | null;
}

/** One batch of a purge: what was deleted, so the caller can forget it in memory. */
export interface PurgeBatch {
  eventIds: string[];
  /** False once the room (or the purged range) has nothing left to delete. */
  more: boolean;
}

/** Events of a room before a position, for a history purge. */
export interface HistoryPurgeScope {
  roomId: string;
  /** Events at positions below this one are purged (the position of purge_up_to). */
  beforeStreamOrdering: number;
  /** Senders ending with this suffix (`:server_name`) keep their events; none: all purged. */
  keepSendersEndingWith?: string;
  limit: number;
}

/** What an admin purge deleted, for the room store's caches to forget (RoomStore.forgetPurged). */
export interface PurgedFromCaches {
  eventIds: readonly string[];
  /** Users whose membership lists named the room. */
  memberIds: readonly string[];
  /** The room's current state entries deleted (`stateMapKey`s). */
  stateMapKeys: readonly string[];
}
