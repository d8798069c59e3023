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
import type { Storage } from '../storage/storage.js';

/** Joined rooms first, then invites, then knocks (as Synapse). */
const MEMBERSHIPS_LEFT = ['join', 'invite', 'knock'] as const;
/** Leaves handed to RoomService together: rooms in parallel share commits. */
const LEAVES_AT_ONCE = 16;

export class DeactivationLeaves {
  /** Users whose rooms are being left → whether to look again after this pass. */
  private readonly running = new Map<string, boolean>();
  private readonly idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly storage: Storage,
    private readonly membership: Pick<MembershipService, 'leave'>,
    private readonly logger: Logger,
  ) {}

  /** Resumes the leaves a previous run left unfinished. */
  async resume(): Promise<void> {
    for (const userId of await this.storage.users.pendingDeactivationLeaves()) this.kick(userId);
  }

  /** Starts leaving the deactivated user's rooms (once their deactivation committed). */
  kick(userId: string): void {
    if (this.closed) return;
    if (this.running.has(userId)) {
      this.running.set(userId, true);
      return;
    }
    this.running.set(userId, false);
    void this.drain(userId);
  }

  /** Resolves when no user's rooms are being left (tests, shutdown). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Shutdown: the leaves under way finish, the rest stay queued for the next start. */
  close(): Promise<void> {
    this.closed = true;
    return this.idle();
  }

  private async drain(userId: string): Promise<void> {
    try {
      do {
        this.running.set(userId, false);
        await this.leaveAll(userId);
      } while (this.running.get(userId));
      if (!this.closed) await this.storage.users.finishDeactivationLeaves(userId);
    } catch (err) {
      // The row stays queued: the next start retries.
      this.logger.error({ err, userId }, 'deactivation: leaving rooms failed');
    } finally {
      this.running.delete(userId);
      if (this.running.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
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
