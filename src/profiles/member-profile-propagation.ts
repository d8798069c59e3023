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
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import type { ProfileStore } from '../storage/storage.js';
import { PerKeyPasses } from '../util/per-key-passes.js';

/** The propagation queue (profiles), and the rooms the user joined with their member events. */
export interface MemberProfilePropagationStorage {
  profiles: ProfileStore;
  rooms: RoomStateReader & MembershipReader;
}

export class MemberProfilePropagation {
  /** A newer change kicked while a pass runs makes it run again. */
  private readonly passes: PerKeyPasses;

  constructor(
    private readonly storage: MemberProfilePropagationStorage,
    private readonly rooms: RoomService,
    private readonly memberProfiles: MemberProfiles,
    private readonly logger: Logger,
  ) {
    // The row stays queued after a failure: the next change or the next start retries.
    this.passes = new PerKeyPasses(
      (userId) => this.propagateQueued(userId),
      (err, userId) => this.logger.error({ err, userId }, 'profile propagation failed'),
    );
  }

  /** Resumes the propagations a previous run left unfinished. */
  async resume(): Promise<void> {
    for (const { userId } of await this.storage.profiles.pendingPropagations()) this.kick(userId);
  }

  /** Starts (or re-runs after the current pass) the user's propagation. */
  kick(userId: string): void {
    this.passes.kick(userId);
  }

  /** Resolves when no propagation is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  /** Propagates the queued change, unqueued only if no newer one was queued meanwhile. */
  private async propagateQueued(userId: string): Promise<void> {
    const generation = await this.generationOf(userId);
    if (generation === undefined) return;
    await this.propagate(userId);
    await this.storage.profiles.finishPropagation(userId, generation);
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
    // Checked again under the room's lock: a leave queued since this read wins.
    if (!same) await this.rooms.sendWhileJoined(roomId, userId, draft);
  }
}
