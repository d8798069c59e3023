/**
 * A deactivated user leaves every room they are in, as Synapse does: each
 * joined room is left, each pending invite rejected and each knock withdrawn,
 * by the m.room.member `leave` POST /rooms/{roomId}/leave sends
 * (MembershipService, then RoomService: auth rules, push, the notifier, as
 * any leave), so the rooms' members see them go.
 *
 * The deactivation and its queue row (deactivation_leaves) commit together;
 * the row is cleared once every room is done. Queued rows are resumed at start,
 * so a crash midway loses nothing: the rooms already left are no longer among
 * the user's memberships, so resuming sends no second leave. A leave a room
 * refuses (a MatrixError: the auth rules, an unknown room) is logged and
 * skipped, never failing the deactivation; any other failure (storage) ends the
 * pass with the row still queued, for the next start.
 */
import type { Logger } from 'pino';
import { MatrixError } from '../protocol/errors.js';
import type { MembershipService } from '../rooms/membership-service.js';
import type { MembershipReader } from '../storage/readers.js';
import type { UserStore } from '../storage/storage.js';
import { PerKeyPasses } from '../util/per-key-passes.js';

/** Joined rooms first, then invites, then knocks (as Synapse). */
const MEMBERSHIPS_LEFT = ['join', 'invite', 'knock'] as const;
/** Leaves handed to RoomService together: rooms in parallel share commits. */
const LEAVES_AT_ONCE = 16;

/** The queue of deactivated users (users), and the rooms each is still in. */
export interface DeactivationLeavesStorage {
  users: UserStore;
  rooms: MembershipReader;
}

export class DeactivationLeaves {
  private readonly passes: PerKeyPasses;
  private closed = false;

  constructor(
    private readonly storage: DeactivationLeavesStorage,
    private readonly membership: Pick<MembershipService, 'leave'>,
    private readonly logger: Logger,
  ) {
    // A failed pass leaves the row queued: the next start retries.
    this.passes = new PerKeyPasses(
      (userId) => this.leaveEverything(userId),
      (err, userId) => this.logger.error({ err, userId }, 'deactivation: leaving rooms failed'),
    );
  }

  /** Resumes the leaves a previous run left unfinished. */
  async resume(): Promise<void> {
    for (const userId of await this.storage.users.pendingDeactivationLeaves()) this.kick(userId);
  }

  /** Starts leaving the deactivated user's rooms (once their deactivation committed). */
  kick(userId: string): void {
    if (!this.closed) this.passes.kick(userId);
  }

  /** Resolves when no user's rooms are being left (tests, shutdown). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  /** Shutdown: the leaves under way finish, the rest stay queued for the next start. */
  close(): Promise<void> {
    this.closed = true;
    return this.idle();
  }

  /** Every room left (unless closing meanwhile): the user is unqueued. */
  private async leaveEverything(userId: string): Promise<void> {
    await this.leaveAll(userId);
    if (!this.closed) await this.storage.users.finishDeactivationLeaves(userId);
  }

  private async leaveAll(userId: string): Promise<void> {
    for (const membership of MEMBERSHIPS_LEFT) {
      const roomIds = await this.storage.rooms.roomsWithMembership(userId, membership);
      for (let i = 0; i < roomIds.length && !this.closed; i += LEAVES_AT_ONCE) {
        const leaves = roomIds.slice(i, i + LEAVES_AT_ONCE).map((id) => this.leave(id, userId));
        await Promise.all(leaves);
      }
    }
  }

  private async leave(roomId: string, userId: string): Promise<void> {
    try {
      await this.membership.leave(userId, roomId);
    } catch (err) {
      if (!(err instanceof MatrixError)) throw err;
      // Refused (the auth rules always allow leaving oneself, so not expected): not retried.
      this.logger.warn({ err, userId, roomId }, 'deactivation: a room refused the leave');
    }
  }
}
