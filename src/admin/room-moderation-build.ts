/**
 * Builds room moderation (deletion, blocks, history purges) and its job
 * runner; app.ts calls this once, resumes the runner at start and closes it
 * at shutdown.
 */
import type { Logger } from 'pino';
import type { Storage } from '../storage/storage.js';
import { AdminJobRunner } from './admin-jobs.js';
import { HistoryPurgeJobs } from './history-purge.js';
import { RoomDeletionJobs, type RoomDeletionServices } from './room-deletion.js';
import { RoomModerationService } from './room-moderation-service.js';

export function buildRoomModeration(
  serverName: string,
  storage: Storage,
  services: RoomDeletionServices,
  logger: Logger,
): { moderation: RoomModerationService; runner: AdminJobRunner } {
  const runner = new AdminJobRunner(storage.adminJobs, logger);
  const deletions = new RoomDeletionJobs(serverName, storage, services);
  const purges = new HistoryPurgeJobs(serverName, storage, services.forgetRoomInMemory);
  runner.handle('room_delete', (job, context) => deletions.run(job, context));
  runner.handle('purge_history', (job, context) => purges.run(job, context));
  const moderation = new RoomModerationService(storage.adminJobs, runner, deletions, purges);
  return { moderation, runner };
}
