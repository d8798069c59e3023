/**
 * What the Admin API's room moderation endpoints call: room deletions and
 * history purges submitted as jobs (admin-jobs.ts: stored before the answer,
 * run in the background, resumed at start), their statuses, and room blocks.
 */
import type { AdminJob } from '../domain/admin-jobs.js';
import { errors } from '../protocol/errors.js';
import type { AdminJobStore } from '../storage/storage.js';
import type { AdminJobRunner } from './admin-jobs.js';
import type { HistoryPurgeJobs } from './history-purge.js';
import type { RoomDeletionJobs } from './room-deletion.js';
import {
  type DeleteStatusJson,
  deleteStatusJson,
  type HistoryPurgeRequest,
  purgeStatusJson,
  type RoomDeletion,
  type ShutdownResult,
  shutdownResultOf,
} from './room-moderation-rules.js';

export class RoomModerationService {
  constructor(
    private readonly store: AdminJobStore,
    private readonly runner: AdminJobRunner,
    private readonly deletions: RoomDeletionJobs,
    private readonly purges: HistoryPurgeJobs,
  ) {}

  /** v2: the deletion is stored and runs in the background; answers its ID. */
  async deleteRoom(roomId: string, deletion: RoomDeletion): Promise<{ delete_id: string }> {
    await this.deletions.checkDeletable(roomId, deletion, false);
    await this.refuseConcurrentDeletion(roomId);
    const job = await this.runner.submit('room_delete', roomId, { ...deletion });
    return { delete_id: job.id };
  }

  /** v1: the same job, answered once it has ended (Synapse kept this synchronous form). */
  async deleteRoomNow(roomId: string, deletion: RoomDeletion): Promise<ShutdownResult> {
    await this.deletions.checkDeletable(roomId, deletion, true);
    await this.refuseConcurrentDeletion(roomId);
    const submitted = await this.runner.submit('room_delete', roomId, { ...deletion });
    const job = await this.runner.waitFor(submitted.id);
    if (job?.status === 'failed') throw errors.unknown(job.error ?? 'Room deletion failed', 500);
    return shutdownResultOf(job ?? submitted);
  }

  async deleteStatus(deleteId: string): Promise<DeleteStatusJson> {
    const job = await this.store.getJob(deleteId);
    if (!job || job.kind !== 'room_delete') throw errors.notFound('delete id not found');
    return deleteStatusJson(job);
  }

  async deleteStatusesOfRoom(roomId: string): Promise<{ results: DeleteStatusJson[] }> {
    const jobs = await this.store.jobsOfRoom(roomId, 'room_delete');
    if (jobs.length === 0) throw errors.notFound('No delete task for room');
    return { results: jobs.map(deleteStatusJson) };
  }

  async blockStatus(roomId: string): Promise<{ block: boolean; user_id?: string }> {
    const block = await this.store.roomBlock(roomId);
    if (!block) return { block: false };
    return block.userId === null ? { block: true } : { block: true, user_id: block.userId };
  }

  /** Blocks or unblocks; rooms unknown here may be blocked too (as Synapse). */
  async setBlocked(roomId: string, block: boolean, adminId: string): Promise<{ block: boolean }> {
    if (block) await this.store.setRoomBlock(roomId, adminId, Date.now());
    else await this.store.clearRoomBlock(roomId);
    return { block };
  }

  async isBlocked(roomId: string): Promise<boolean> {
    return (await this.store.roomBlock(roomId)) !== undefined;
  }

  async purgeHistory(roomId: string, request: HistoryPurgeRequest): Promise<{ purge_id: string }> {
    const params = await this.purges.paramsFor(roomId, request);
    const job = await this.runner.submit('purge_history', roomId, { ...params });
    return { purge_id: job.id };
  }

  async purgeStatus(purgeId: string): Promise<{ status: string; error?: string }> {
    const job = await this.store.getJob(purgeId);
    if (!job || job.kind !== 'purge_history') throw errors.notFound('purge id not found');
    return purgeStatusJson(job);
  }

  /** Synapse refuses a second deletion of a room while one is under way. */
  private async refuseConcurrentDeletion(roomId: string): Promise<void> {
    const jobs = await this.store.jobsOfRoom(roomId, 'room_delete');
    if (jobs.some(isUnfinished)) throw errors.unknown('Delete already in progress for room');
  }
}

function isUnfinished(job: AdminJob): boolean {
  return job.status === 'scheduled' || job.status === 'active';
}
