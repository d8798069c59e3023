/**
 * `unread_notifications` (and, when the timeline filter asks, the per-thread
 * `unread_thread_notifications`) in each joined room's section of /sync.
 *
 * No stream of its own: every change of a count is caused by a room event (a
 * notifying event, or the user's own event moving their read position), whose
 * position is in the roomEvents stream, or by the user's read receipt, which
 * the receipts stream already puts in that room's section. So the sections to
 * fill are those present plus the rooms with such events in (since, upper];
 * counts are read up to upper.roomEvents, once evaluation has reached it, so
 * they match the timeline of the same response.
 *
 * Runs after the receipts provider (app.ts), so the sections receipts add get counts.
 */
import type { JsonObject } from '../events/pdu.js';
import { roomMatchesFilter } from '../sync/filters.js';
import type {
  JoinedRoomSection,
  StreamContext,
  SyncResponseParts,
  SyncStreamProvider,
} from '../sync/sync-streams.js';
import type { UnreadCounts } from '../storage/storage.js';
import type { NotificationService } from './notification-service.js';

function countsJson(counts: UnreadCounts) {
  return {
    notification_count: counts.notificationCount,
    highlight_count: counts.highlightCount,
  };
}

export class UnreadCountsSyncProvider implements SyncStreamProvider {
  readonly name = 'unreadCounts';
  /** Counts for every section the others add too: a room a receipt brings in gets its counts. */
  readonly after = ['receipts'];
  constructor(private readonly notifications: NotificationService) {}

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const upTo = context.upper.roomEvents;
    await this.notifications.whenEvaluated(upTo);
    const added = await this.addChangedRooms(context, parts);
    const perThread = context.filter.room.timeline.unreadThreadNotifications;
    for (const [roomId, section] of parts.joinedRooms) {
      await this.fill(context.viewer.userId, roomId, upTo, section, perThread);
    }
    return added;
  }

  /** Sections for rooms whose counts changed though the timeline had nothing to show. */
  private async addChangedRooms(context: StreamContext, parts: SyncResponseParts) {
    if (!context.since) return false;
    const joined = new Set(context.joinedRoomIds);
    const changed = await this.notifications.roomsChanged(
      context.viewer.userId,
      context.since.roomEvents,
      context.upper.roomEvents,
    );
    let added = false;
    for (const roomId of changed) {
      if (!joined.has(roomId) || parts.joinedRooms.has(roomId)) continue;
      if (!roomMatchesFilter(roomId, context.filter.room)) continue;
      parts.joinedRoom(roomId);
      added = true;
    }
    return added;
  }

  private async fill(
    userId: string,
    roomId: string,
    upTo: number,
    section: JoinedRoomSection,
    perThread: boolean,
  ): Promise<void> {
    const counts = await this.notifications.unreadCounts(userId, roomId, upTo);
    if (!perThread) {
      section.unread_notifications = countsJson(counts.total);
      return;
    }
    // With per-thread counts, unread_notifications covers the main timeline only.
    section.unread_notifications = countsJson(counts.main);
    const threads: JsonObject = {};
    for (const [rootId, threadCounts] of counts.threads) threads[rootId] = countsJson(threadCounts);
    // "If no threads have notification counts, this whole object can be omitted."
    if (counts.threads.size > 0) section.unread_thread_notifications = threads;
  }
}
