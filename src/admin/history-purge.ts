/**
 * History purges (`POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}]`)
 * as background jobs (admin-jobs.ts). The point is resolved to a stream
 * position when the request comes (so a bad event ID is the request's error);
 * the job then deletes, batch by batch, the room's events before it with the
 * rows keyed by them (relations, threads rooted there, redaction marks,
 * transaction IDs, notifications).
 *
 * What stays, as in Synapse: every state event (the state groups of later
 * events name them, and Synapse keeps "room state data such as joins, leaves,
 * topic"), the forward extremities (the next event's prev_events), and local
 * users' events unless `delete_local_events`. A purge is idempotent: resumed
 * after a crash, it deletes what the last run did not reach.
 */
import type { AdminJob } from '../domain/admin-jobs.js';
import { errors } from '../protocol/errors.js';
import type { AdminJobStore, RoomStore } from '../storage/storage.js';
import { type JobContext, JobInterrupted, yieldToEventLoop } from './admin-jobs.js';
import type { HistoryPurgeRequest } from './room-moderation-rules.js';

const PURGE_BATCH = 500;

/** The job's params: where the purge stops, and whose events it keeps. */
export interface HistoryPurgeParams {
  beforeStreamOrdering: number;
  deleteLocalEvents: boolean;
}

export interface HistoryPurgeStorage {
  adminJobs: AdminJobStore;
  rooms: Pick<RoomStore, 'getRoom' | 'getEvent' | 'eventNearTimestamp' | 'forgetPurged'>;
}

export class HistoryPurgeJobs {
  constructor(
    private readonly serverName: string,
    private readonly storage: HistoryPurgeStorage,
    /** Drops what memory holds of the room's recent events once some are gone. */
    private readonly forgetRecentEvents: (roomId: string) => void,
  ) {}

  /** The request's purge point as a position: 404 for an unknown room or event. */
  async paramsFor(roomId: string, request: HistoryPurgeRequest): Promise<HistoryPurgeParams> {
    if (!(await this.storage.rooms.getRoom(roomId))) throw errors.notFound('Unknown room');
    const before = await this.positionOf(roomId, request);
    return { beforeStreamOrdering: before, deleteLocalEvents: request.deleteLocalEvents };
  }

  /** The job handler: deletes the purged events in batches. */
  async run(job: AdminJob, context: JobContext): Promise<Record<string, unknown>> {
    const params = job.params as unknown as HistoryPurgeParams;
    let purged = Number((job.result as { purged_events?: number } | null)?.purged_events ?? 0);
    for (;;) {
      if (context.stopping) throw new JobInterrupted();
      const batch = await this.storage.adminJobs.purgeHistoryBatch({
        roomId: job.roomId,
        beforeStreamOrdering: params.beforeStreamOrdering,
        keepSendersEndingWith: params.deleteLocalEvents ? undefined : `:${this.serverName}`,
        limit: PURGE_BATCH,
      });
      this.storage.rooms.forgetPurged(job.roomId, {
        eventIds: batch.eventIds,
        memberIds: [],
        stateMapKeys: [],
      });
      purged += batch.eventIds.length;
      if (!batch.more) break;
      await context.progress({ purged_events: purged });
      await yieldToEventLoop();
    }
    this.forgetRecentEvents(job.roomId);
    return { purged_events: purged };
  }

  /**
   * Events before this position are purged. An event ID keeps that event (as
   * Synapse); a time purges the events sent before it.
   */
  private async positionOf(roomId: string, request: HistoryPurgeRequest): Promise<number> {
    const { point } = request;
    if ('eventId' in point) {
      const event = await this.storage.rooms.getEvent(point.eventId);
      if (!event) throw errors.notFound('Unknown event');
      if (event.roomId !== roomId) throw errors.invalidParam('Event is for wrong room.');
      return event.streamOrdering;
    }
    const after = await this.storage.rooms.eventNearTimestamp(roomId, point.ts, 'f');
    if (!after) return Number.MAX_SAFE_INTEGER;
    const event = await this.storage.rooms.getEvent(after.eventId);
    if (!event) throw errors.notFound('Unknown event');
    return event.streamOrdering;
  }
}
