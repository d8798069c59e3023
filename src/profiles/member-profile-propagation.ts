/**
 * A display name or avatar change reaches every room the user has joined as a
 * new `m.room.member` join (content from the profile, as Synapse), in the
 * background so the request does not wait on many rooms.
 *
 * The profile change and its queue row (profile_propagations) commit together;
 * the row is cleared once every room is done, and only if no newer change
 * queued another generation meanwhile. Queued rows are resumed at start, so a
 * crash loses nothing; rooms whose member event already shows the profile are
 * skipped, so resuming sends no duplicates.
 */
import type { Logger } from 'pino';
import type { MemberProfiles } from '../rooms/member-profiles.js';
import type { RoomService } from '../rooms/room-service.js';
import type { Storage } from '../storage/storage.js';

export class MemberProfilePropagation {
  /** Users being propagated → whether a newer change arrived meanwhile. */
  private readonly running = new Map<string, boolean>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly rooms: RoomService,
    private readonly memberProfiles: MemberProfiles,
    private readonly logger: Logger,
  ) {}

  /** Resumes the propagations a previous run left unfinished. */
  async resume(): Promise<void> {
    for (const { userId } of await this.storage.profiles.pendingPropagations()) this.kick(userId);
  }

  /** Starts (or re-runs after the current pass) the user's propagation. */
  kick(userId: string): void {
    if (this.running.has(userId)) {
      this.running.set(userId, true);
      return;
    }
    this.running.set(userId, false);
    void this.drain(userId);
  }

  /** Resolves when no propagation is running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(userId: string): Promise<void> {
    try {
      do {
        this.running.set(userId, false);
        const generation = await this.generationOf(userId);
        if (generation === undefined) break;
        await this.propagate(userId);
        await this.storage.profiles.finishPropagation(userId, generation);
      } while (this.running.get(userId));
    } catch (err) {
      // The row stays queued: the next change or the next start retries.
      this.logger.error({ err, userId }, 'profile propagation failed');
    } finally {
      this.running.delete(userId);
      if (this.running.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

  private async generationOf(userId: string): Promise<number | undefined> {
    const pending = await this.storage.profiles.pendingPropagations();
    return pending.find((p) => p.userId === userId)?.generation;
  }

  private async propagate(userId: string): Promise<void> {
    for (const roomId of await this.storage.rooms.roomsWithMembership(userId, 'join')) {
      try {
        await this.updateRoom(roomId, userId);
      } catch (err) {
        // One room refusing (say, it was left meanwhile) must not hold back the others.
        this.logger.warn({ err, userId, roomId }, 'profile not propagated to a room');
      }
    }
  }

  private async updateRoom(roomId: string, userId: string): Promise<void> {
    const draft = await this.memberProfiles.complete({
      type: 'm.room.member',
      stateKey: userId,
      content: { membership: 'join' },
    });
    const pair = { type: 'm.room.member', stateKey: userId };
    const [eventId] = (await this.storage.rooms.currentStateIdsFor(roomId, [pair])).values();
    const current = eventId === undefined ? undefined : await this.storage.rooms.getEvent(eventId);
    if (current?.pdu.content.membership !== 'join') return;
    const content = current.pdu.content;
    const same =
      content.displayname === draft.content.displayname &&
      content.avatar_url === draft.content.avatar_url;
    if (!same) await this.rooms.send(roomId, userId, draft);
  }
}
