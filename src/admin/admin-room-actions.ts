/**
 * The Admin API's room actions, as Synapse's: join a local user to a room,
 * make a user a room admin, show and prune forward extremities, read a room's
 * messages without being in it. Every event goes through the membership and
 * room services (built, authorised, stored as any other); nothing here writes
 * events itself.
 */
import { authStateOf, roomCreators } from '../events/auth/auth-state.js';
import type { JsonObject } from '../events/pdu.js';
import { roomVersion } from '../events/room-versions.js';
import { errors, MatrixError } from '../protocol/errors.js';
import { currentMembership, currentStateEvent } from '../rooms/current-membership.js';
import type { DirectoryService } from '../rooms/directory-service.js';
import type { MembershipService } from '../rooms/membership-service.js';
import type { RoomService } from '../rooms/room-service.js';
import type { RoomStateReader, UserReader } from '../storage/readers.js';
import type { ForwardExtremityStore } from '../storage/storage.js';
import type { HistoryService, MessagesRequest } from '../sync/history-service.js';
import { checkLocalUserId } from './admin-rules.js';
import {
  forwardExtremitiesJson,
  grantedPowerLevels,
  parseRoomIdentifier,
  roomAdminCandidates,
  type PowerState,
} from './room-action-rules.js';

const LOCAL_ONLY = 'This endpoint can only be used with local users';
const NO_LOCAL_ADMIN = 'No local admin user in room';

export interface AdminRoomActionsStorage {
  users: UserReader;
  rooms: RoomStateReader;
  extremities: ForwardExtremityStore;
}

export interface AdminRoomActionsDeps {
  rooms: RoomService;
  membership: MembershipService;
  directory: DirectoryService;
  history: HistoryService;
}

export class AdminRoomActionService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AdminRoomActionsStorage,
    private readonly deps: AdminRoomActionsDeps,
  ) {}

  /**
   * Joins a local user to a room. As Synapse: where the join rule is not
   * public, the calling admin first invites the user, so the admin must be in
   * the room with the power to invite (else 403 from the auth rules). Unlike
   * Synapse, a user already invited or joined is not invited again (that
   * invite would be refused and fail the whole request).
   */
  async join(adminId: string, roomIdentifier: string, userId: string): Promise<JsonObject> {
    const user = await this.localUser(userId);
    const roomId = await this.resolveRoom(roomIdentifier);
    if ((await this.joinRule(roomId)) !== 'public') {
      const membership = await currentMembership(this.storage, roomId, userId);
      if (membership !== 'join' && membership !== 'invite') {
        await this.deps.membership.act('invite', adminId, roomId, userId);
      }
    }
    const owner = { userId, deviceId: '', isGuest: user.isGuest };
    await this.deps.membership.join(owner, roomId);
    return { room_id: roomId };
  }

  /**
   * Synapse's make_room_admin: the most powerful joined local user sends power
   * levels giving `target` their own level; then, unless the target is joined
   * or invited or the room is public, that user invites the target (Synapse
   * invites and lets the user join).
   */
  async makeRoomAdmin(roomIdentifier: string, target: string): Promise<JsonObject> {
    checkLocalUserId(target, this.serverName, LOCAL_ONLY);
    const roomId = await this.resolveRoom(roomIdentifier);
    const state = await this.powerState(roomId);
    const sender = await this.powerfulJoinedUser(roomId, state);
    // A v12 creator already has the highest power, and `users` must not name them.
    if (!state.creatorsWithInfinitePower.includes(target)) {
      await this.sendPowerLevels(
        roomId,
        sender,
        grantedPowerLevels(state.powerLevels, sender, target),
      );
    }
    const membership = await currentMembership(this.storage, roomId, target);
    if (membership === 'join' || membership === 'invite') return {};
    if ((await this.joinRule(roomId)) === 'public') return {};
    await this.deps.membership.act('invite', sender, roomId, target);
    return {};
  }

  async forwardExtremities(roomIdentifier: string): Promise<JsonObject> {
    const roomId = await this.resolveRoom(roomIdentifier);
    const extremities = await this.storage.extremities.list(roomId);
    const events = await this.storage.rooms.getEvents(extremities.map((e) => e.eventId));
    const receivedTs = new Map(events.map((e) => [e.eventId, e.pdu.origin_server_ts]));
    return forwardExtremitiesJson(extremities, receivedTs);
  }

  /** Deletes every extremity but the newest (Synapse's choice), under the room's lock. */
  async deleteForwardExtremities(roomIdentifier: string): Promise<JsonObject> {
    const roomId = await this.resolveRoom(roomIdentifier);
    const deleted = await this.deps.rooms.rewriteExtremities(roomId, () =>
      this.storage.extremities.deleteAllButNewest(roomId),
    );
    return { deleted };
  }

  /** /messages as Synapse's admin privilege reads it: any room, every event. */
  async messages(request: Omit<MessagesRequest, 'asServerAdmin'>): Promise<JsonObject> {
    const roomId = await this.resolveRoom(request.roomId);
    return this.deps.history.messages({ ...request, roomId, asServerAdmin: true });
  }

  private async localUser(userId: string) {
    checkLocalUserId(userId, this.serverName, LOCAL_ONLY);
    const user = await this.storage.users.getUser(userId);
    if (!user) throw errors.notFound('User not found');
    return user;
  }

  /** A room ID or a local alias, to a room this server knows (404 otherwise). */
  private async resolveRoom(identifier: string): Promise<string> {
    const parsed = parseRoomIdentifier(identifier);
    const roomId =
      'roomId' in parsed
        ? parsed.roomId
        : (await this.deps.directory.resolve(parsed.alias)).room_id;
    if (!(await this.storage.rooms.getRoom(roomId))) throw errors.notFound('Room not found');
    return roomId;
  }

  private async joinRule(roomId: string): Promise<unknown> {
    const event = await currentStateEvent(this.storage, roomId, 'm.room.join_rules', '');
    return event?.pdu.content.join_rule;
  }

  private async powerState(roomId: string): Promise<PowerState> {
    const room = (await this.storage.rooms.getRoom(roomId))!;
    const version = roomVersion(room.version);
    const create = await currentStateEvent(this.storage, roomId, 'm.room.create', '');
    if (!create) throw errors.notFound('Room not found');
    const powerLevels = await currentStateEvent(this.storage, roomId, 'm.room.power_levels', '');
    return {
      powerLevels: powerLevels?.pdu.content,
      createSender: create.pdu.sender,
      creatorsWithInfinitePower: version.creatorsHaveInfinitePower
        ? roomCreators(authStateOf([create]), version)
        : [],
    };
  }

  /** The first joined candidate; without power levels, the creator (Synapse checks no membership then). */
  private async powerfulJoinedUser(roomId: string, state: PowerState): Promise<string> {
    const candidates = roomAdminCandidates(state, (userId) => this.isLocal(userId));
    if (!state.powerLevels && candidates[0]) return candidates[0];
    for (const userId of candidates) {
      if ((await currentMembership(this.storage, roomId, userId)) === 'join') return userId;
    }
    throw errors.unknown(NO_LOCAL_ADMIN);
  }

  /** The auth rules refusing it means the chosen user lacked the power: Synapse's 400. */
  private async sendPowerLevels(roomId: string, sender: string, content: JsonObject) {
    try {
      await this.deps.rooms.send(roomId, sender, {
        type: 'm.room.power_levels',
        stateKey: '',
        content,
      });
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403) {
        throw errors.unknown(`${NO_LOCAL_ADMIN} with power to update power levels.`);
      }
      throw err;
    }
  }

  private isLocal(userId: string): boolean {
    return userId.endsWith(`:${this.serverName}`);
  }
}
