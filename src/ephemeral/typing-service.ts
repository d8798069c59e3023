/**
 * Typing notifications: in memory only (they last seconds), with the server's
 * own timeouts, delivered as each joined room's `m.typing` ephemeral event.
 *
 * Positions of the typing stream: each change takes max(previous + 1, now in
 * ms). Starting from the clock means a restarted server (which has forgotten
 * every typist) is at a position beyond any token it issued before, unless
 * typing changes outran the clock (over 1000 a second, sustained; the clock
 * catches up as soon as they slow down). A token from before the restart is
 * thus behind the start position, and every joined room of that client gets an
 * `m.typing` (empty ones included) so that typists the server forgot are
 * cleared; a token "from the future" is clamped to now by SyncService.
 */
import type { ServerEventBus } from '../domain/server-events.js';
import { requireJoined, type CurrentStateStorage } from '../rooms/current-membership.js';
import { eventMatchesFilter, filterBlocksEverything, roomMatchesFilter } from '../sync/filters.js';
import type { Notifier } from '../sync/notifier.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';

/** Longest typing period a client may ask for; the spec sets none (Synapse neither), clients use 30 s. */
export const MAX_TYPING_TIMEOUT_MS = 120_000;
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
/** A remote user's typing lasts this long unless renewed (Synapse's FEDERATION_TIMEOUT). */
export const REMOTE_TYPING_TIMEOUT_MS = 60_000;

const TYPING_EVENT = { type: 'm.typing' };

interface RoomTyping {
  /** The position of the room's last change. */
  position: number;
  /** Typists, each with the timer that ends their typing. */
  typists: Map<string, NodeJS.Timeout>;
}

export class TypingService implements SyncStreamProvider {
  readonly name = 'typing';
  readonly stream = 'typing' as const;
  /** Everything it adds is a change of its stream, or a fresh room's whole data. */
  readonly onlyChangesOfItsStream = true;
  /** Rooms whose typing changed since start; one small entry per room, kept (bounded by the rooms). */
  private readonly rooms = new Map<string, RoomTyping>();
  private readonly startPosition: number;
  private position: number;
  constructor(
    /** Typing is in memory: storage only tells whether the typist is joined. */
    private readonly storage: CurrentStateStorage,
    private readonly notifier: Notifier,
    /** Starting to type is activity (`userActive`, presence). */
    private readonly bus: ServerEventBus,
    now = Date.now(),
  ) {
    this.startPosition = now;
    this.position = now;
  }

  async currentPosition(): Promise<number> {
    return this.position;
  }

  /** PUT /rooms/{roomId}/typing/{userId}: the user types for `timeoutMs`, or stops. */
  async setTyping(roomId: string, userId: string, typing: boolean, timeoutMs: number) {
    await requireJoined(this.storage, roomId, userId);
    if (typing) {
      this.bus.emit('userActive', userId);
      this.start(roomId, userId, Math.min(Math.max(timeoutMs, 0), MAX_TYPING_TIMEOUT_MS));
    } else {
      this.stop(roomId, userId);
    }
  }

  /**
   * A remote user's typing, from their server's m.typing EDU (federation/edu-receiver.ts has
   * checked they are joined): no activity of ours, and it ends after Synapse's federation
   * timeout unless renewed.
   */
  setRemoteTyping(roomId: string, userId: string, typing: boolean): void {
    if (typing) this.start(roomId, userId, REMOTE_TYPING_TIMEOUT_MS);
    else this.stop(roomId, userId);
  }

  /** The users typing in a room now. */
  typists(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.typists.keys() ?? [])];
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const room of this.rooms.values()) room.typists.forEach((timer) => clearTimeout(timer));
  }

  private start(roomId: string, userId: string, timeoutMs: number): void {
    const room = this.roomOf(roomId);
    const already = room.typists.get(userId);
    if (already) clearTimeout(already);
    const timer = setTimeout(() => this.stop(roomId, userId), timeoutMs);
    timer.unref();
    room.typists.set(userId, timer);
    // A renewal by someone already typing changes nothing the members see.
    if (!already) this.changed(roomId, room);
  }

  /** Also the timeout's end: the notifier then wakes the room's waiting syncs. */
  private stop(roomId: string, userId: string): void {
    const room = this.rooms.get(roomId);
    const timer = room?.typists.get(userId);
    if (!room || !timer) return;
    clearTimeout(timer);
    room.typists.delete(userId);
    this.changed(roomId, room);
  }

  private roomOf(roomId: string): RoomTyping {
    let room = this.rooms.get(roomId);
    if (!room)
      this.rooms.set(roomId, (room = { position: this.startPosition, typists: new Map() }));
    return room;
  }

  private changed(roomId: string, room: RoomTyping): void {
    this.position = Math.max(this.position + 1, Date.now());
    room.position = this.position;
    this.notifier.notify({ stream: 'typing', position: this.position, roomIds: [roomId] });
  }

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const filter = context.filter.room.ephemeral;
    if (filterBlocksEverything(filter)) return false;
    const since = context.since?.typing;
    let added = false;
    for (const roomId of context.joinedRoomIds) {
      const room = this.rooms.get(roomId);
      const position = room?.position ?? this.startPosition;
      const fresh = since === undefined || context.freshRoomIds.has(roomId);
      const wanted = fresh ? (room?.typists.size ?? 0) > 0 : position > since;
      if (!wanted || !roomMatchesFilter(roomId, context.filter.room)) continue;
      if (!eventMatchesFilter(TYPING_EVENT, filter, roomId)) continue;
      const content = { user_ids: this.typists(roomId) };
      parts.joinedRoom(roomId).ephemeral.events.push({ type: 'm.typing', content } as never);
      added = true;
    }
    return added;
  }
}
