/**
 * Room deletion (Synapse's shutdown and purge, `DELETE /_synapse/admin/v2/rooms/{roomId}`)
 * as a background job (admin-jobs.ts), in Synapse's order:
 *
 * 1. the block, first, so nobody rejoins meanwhile (even for a room unknown here);
 * 2. with `new_room_user_id`, a new public room made by that user (members at
 *    power -10), whose ID is saved before anyone is moved;
 * 3. every local member (joined, invited, knocking) leaves by their own leave
 *    event (MembershipService, as any leave: auth rules, push, the notifier);
 *    joined ones join the new room;
 * 4. with a new room, the message in it and the aliases moved there; without,
 *    the aliases deleted; the room leaves the public directory;
 * 5. with `purge`, the room's rows deleted in batches (a transaction each, a turn
 *    of the event loop between), then its traces in memory.
 *
 * Each step saves the shutdown result, so a resumed job skips what is done:
 * users who left are no longer members, the new room is not made twice.
 */
import { splitStateMapKey } from '../events/auth/auth-state.js';
import type { AdminJob } from '../domain/admin-jobs.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { CreateRoomRequest } from '../rooms/create-room.js';
import type { MembershipService } from '../rooms/membership-service.js';
import type { EventDraft } from '../rooms/room-service.js';
import type { AdminJobStore, DirectoryStore, RoomStore } from '../storage/storage.js';
import { type JobContext, JobInterrupted, yieldToEventLoop } from './admin-jobs.js';
import {
  type RoomDeletion,
  roomDeletionOf,
  type ShutdownResult,
  shutdownResultOf,
} from './room-moderation-rules.js';

/** Events deleted per transaction: a few milliseconds of work each. */
const PURGE_BATCH = 500;
/** The memberships a deletion ends, as Synapse (bans stay as they are). */
const MEMBERSHIPS_ENDED = new Set(['join', 'invite', 'knock']);

export interface RoomDeletionStorage {
  adminJobs: AdminJobStore;
  rooms: Pick<RoomStore, 'getRoom' | 'currentStateIds' | 'getEvents' | 'forgetPurged'>;
  directory: Pick<DirectoryStore, 'aliasesOfRoom' | 'deleteAlias' | 'moveAliases' | 'setPublished'>;
}

/** The room services a deletion acts through. */
export interface RoomDeletionServices {
  membership: Pick<MembershipService, 'leave' | 'join'>;
  createRoom(request: CreateRoomRequest): Promise<string>;
  send(roomId: string, sender: string, draft: EventDraft): Promise<unknown>;
  /** The room's in-memory traces (its head, recent events) once its rows are gone. */
  forgetRoomInMemory(roomId: string): void;
}

export class RoomDeletionJobs {
  constructor(
    private readonly serverName: string,
    private readonly storage: RoomDeletionStorage,
    private readonly services: RoomDeletionServices,
  ) {}

  /** The job handler (admin-jobs.ts): runs or resumes one deletion. */
  async run(job: AdminJob, context: JobContext): Promise<Record<string, unknown>> {
    const deletion = roomDeletionOf(job);
    const result = shutdownResultOf(job);
    const save = () => context.progress({ ...result });
    if (deletion.block) {
      // From the shell (weft delete-room) there is no requesting user: blocked by no one.
      const blocker = deletion.requesterId === '' ? null : deletion.requesterId;
      await this.storage.adminJobs.setRoomBlock(job.roomId, blocker, Date.now());
    }
    if (!(await this.storage.rooms.getRoom(job.roomId))) {
      // Blocked (if asked) and nothing else here: as Synapse, done.
      return { ...result };
    }
    if (deletion.newRoomUserId !== undefined && result.new_room_id === null) {
      result.new_room_id = await this.createNewRoom(deletion);
      await save();
    }
    await this.removeLocalMembers(job.roomId, result, context, save);
    await this.finishShutdown(job.roomId, deletion, result);
    await save();
    if (deletion.purge) {
      if (result.failed_to_kick_users.length > 0 && !deletion.forcePurge) {
        throw errors.unknown('Users are still joined to this room; use force_purge');
      }
      await this.purge(job.roomId, context);
    }
    return { ...result };
  }

  /** Refuses a deletion of a room this server does not know, unless it only blocks it. */
  async checkDeletable(roomId: string, deletion: RoomDeletion, v1: boolean): Promise<void> {
    if (await this.storage.rooms.getRoom(roomId)) return;
    // Synapse: only v1 may block a room unknown here; otherwise an unknown room is refused.
    if (v1 && deletion.block) return;
    throw v1 ? errors.invalidParam(`Unknown room ${roomId}`) : errors.notFound('Unknown room');
  }

  private async createNewRoom(deletion: RoomDeletion): Promise<string> {
    // Synapse's config: a public room named room_name where members cannot speak.
    return this.services.createRoom({
      creator: deletion.newRoomUserId!,
      preset: 'public_chat',
      visibility: 'private',
      creationContent: {},
      powerLevelOverride: { users_default: -10 },
      initialState: [],
      name: deletion.roomName,
      invite: [],
      isDirect: false,
    });
  }

  private async removeLocalMembers(
    roomId: string,
    result: ShutdownResult,
    context: JobContext,
    save: () => Promise<void>,
  ): Promise<void> {
    for (const { userId, membership } of await this.localMembers(roomId)) {
      if (context.stopping) throw new JobInterrupted();
      try {
        // Synapse also forgets the room for them; Weft does not, so that their clients'
        // next /sync still shows the leave (a forgotten room is left out of sync).
        await this.services.membership.leave(userId, roomId);
        if (membership === 'join' && result.new_room_id !== null) {
          await this.services.membership.join(
            { userId, deviceId: '', isGuest: false },
            result.new_room_id,
          );
        }
        result.kicked_users.push(userId);
      } catch (err) {
        if (!(err instanceof MatrixError)) throw err;
        result.failed_to_kick_users.push(userId);
      }
      await save();
    }
  }

  /** Local users whose membership the deletion ends, from the room's current state. */
  private async localMembers(roomId: string): Promise<{ userId: string; membership: string }[]> {
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const memberEventIds = [...ids]
      .filter(([key]) => splitStateMapKey(key).type === 'm.room.member')
      .map(([, eventId]) => eventId);
    const suffix = `:${this.serverName}`;
    return (await this.storage.rooms.getEvents(memberEventIds))
      .map((event) => ({
        userId: event.pdu.state_key ?? '',
        membership: String(event.pdu.content.membership),
      }))
      .filter((m) => m.userId.endsWith(suffix) && MEMBERSHIPS_ENDED.has(m.membership))
      .sort((a, b) => (a.userId < b.userId ? -1 : 1));
  }

  private async finishShutdown(
    roomId: string,
    deletion: RoomDeletion,
    result: ShutdownResult,
  ): Promise<void> {
    const { directory } = this.storage;
    if (result.new_room_id !== null && deletion.newRoomUserId !== undefined) {
      const draft = {
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: deletion.message },
      };
      await this.services.send(result.new_room_id, deletion.newRoomUserId, draft);
      result.local_aliases = await directory.moveAliases(roomId, result.new_room_id);
    } else {
      // Synapse reports only aliases moved; without a new room the aliases simply go.
      for (const alias of await directory.aliasesOfRoom(roomId)) await directory.deleteAlias(alias);
    }
    await directory.setPublished(roomId, false, Date.now());
  }

  /** Deletes the room's rows batch by batch, then what memory still holds of it. */
  private async purge(roomId: string, context: JobContext): Promise<void> {
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const stateMapKeys = [...ids.keys()];
    const memberIds = stateMapKeys
      .map(splitStateMapKey)
      .filter((key) => key.type === 'm.room.member')
      .map((key) => key.stateKey);
    for (;;) {
      if (context.stopping) throw new JobInterrupted();
      const batch = await this.storage.adminJobs.purgeRoomBatch(roomId, PURGE_BATCH);
      this.storage.rooms.forgetPurged(roomId, {
        eventIds: batch.eventIds,
        memberIds: [],
        stateMapKeys: [],
      });
      if (!batch.more) break;
      await yieldToEventLoop();
    }
    this.storage.rooms.forgetPurged(roomId, { eventIds: [], memberIds, stateMapKeys });
    this.services.forgetRoomInMemory(roomId);
  }
}
