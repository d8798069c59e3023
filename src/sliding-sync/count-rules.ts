/**
 * Which rooms' unread counts a sliding sync response reads (pure). Element X
 * long-polls with its whole room list in the window, so reading every
 * room's counts on every wake-up cost work in proportion to the list, not to
 * what changed. A count changes only when (push/notification-service.ts,
 * storage/common/notification-cache.ts):
 * - a notification is stored for the user (evaluation, in stream order, of a
 *   room event), or their read position moves because they sent an event:
 *   both at the event's position, which `roomsChanged` finds after a position;
 * - their read receipt (`m.read`, `m.read.private`, also through
 *   /read_markers) moves their read position to an older event: found by the
 *   receipt's own position in the receipts stream, which moves only once the
 *   read position has (receipt-service.ts).
 * Push rule changes apply to events evaluated after them, never to stored
 * notifications, so they change no count by themselves. (Storage's own
 * rewrites, an admin's purge of history taking its notifications along or an
 * evaluation whose write failed, are seen only once the room's counts next
 * move: as rare as they are, a stale count until then is what they cost.)
 *
 * So a state records up to where its counts hold (`countsAfter`, the
 * evaluation's progress when they were read: later notifications of events
 * at or before the response's bound are found after it) and which rooms it
 * did not count (outside the windows, or not joined: `uncounted`). A joined
 * room of the windows is counted again when it was not counted by the state,
 * when it changed since, or when the state cannot tell (one stored before
 * this was kept); the others keep the counts they were last sent with.
 */
import type { ConnectionState, RoomSent } from './connections.js';

export interface Counts {
  notificationCount: number;
  highlightCount: number;
}

const NO_COUNTS: Counts = { notificationCount: 0, highlightCount: 0 };

/**
 * The joined rooms of the windows whose counts are read, in their order:
 * `changed` holds the rooms with a change after the base's countsAfter or
 * a read receipt of the user after its receipts position.
 */
export function roomsToCount(
  joinedInWindows: readonly string[],
  base: Pick<ConnectionState, 'rooms' | 'countsAfter'> | undefined,
  changed: ReadonlySet<string>,
): string[] {
  if (base?.countsAfter === undefined) return [...joinedInWindows];
  return joinedInWindows.filter((roomId) => {
    const sent = base.rooms.get(roomId);
    return !sent || sent.stripped === true || sent.uncounted === true || changed.has(roomId);
  });
}

/**
 * A room's counts in the response: those read; else for a joined room the
 * ones it was last sent with (roomsToCount found nothing that moved them);
 * a room the user is not joined to has none.
 */
export function countsOf(
  read: Counts | undefined,
  joined: boolean,
  previous: RoomSent | undefined,
): Counts {
  if (read) return read;
  if (!joined || !previous) return NO_COUNTS;
  return { notificationCount: previous.notificationCount, highlightCount: previous.highlightCount };
}

/**
 * The next state's countsAfter: the evaluation's progress taken before any
 * count was read (a notification stored later is of a later event), never
 * beyond the response's bound (counts are read up to it).
 */
export function nextCountsAfter(evaluatedBefore: number, upperRoomEvents: number): number {
  return Math.min(evaluatedBefore, upperRoomEvents);
}

/** The rooms the response did not count, marked so (in place); the counted ones, unmarked. */
export function markUncounted(sent: Map<string, RoomSent>, counted: ReadonlySet<string>): void {
  for (const [roomId, room] of sent) {
    if (counted.has(roomId)) {
      if (room.uncounted) sent.set(roomId, withoutUncounted(room));
    } else if (!room.uncounted) {
      sent.set(roomId, { ...room, uncounted: true });
    }
  }
}

function withoutUncounted(room: RoomSent): RoomSent {
  const copy = { ...room };
  delete copy.uncounted;
  return copy;
}
