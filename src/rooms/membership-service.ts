/**
 * Membership changes a user asks for: join (by ID or alias, restricted joins,
 * guest access), knock, leave, invite, kick, ban, unban and forget. Each becomes
 * an m.room.member event sent through RoomService, with the target's profile
 * added where Synapse adds it (MemberProfiles); the auth rules then decide.
 * The checks here are those the auth rules cannot make: a leave is allowed to
 * look like a kick or an unban, so those two check the target's membership first.
 */
import { errors, MatrixError } from '../protocol/errors.js';
import type { JsonObject } from '../events/pdu.js';
import type { MemberProfiles } from './member-profiles.js';
import type { Storage, TokenOwner } from '../storage/storage.js';
import { currentMembership, currentStateEvent } from './current-membership.js';
import type { DirectoryService } from './directory-service.js';
import { refuseBlockedInvite, type InvitePermissionStorage } from './invite-permission.js';
import { restrictedJoinAuthoriser } from './restricted-join.js';
import type { RoomService } from './room-service.js';
import type { RemoteMembership } from './remote-membership.js';
import { serverNameOf } from '../events/auth/ids.js';

/** What another member can do to a user, and the membership each one sends. */
export type MemberAction = 'invite' | 'kick' | 'ban' | 'unban';
const MEMBERSHIP_OF_ACTION: Record<MemberAction, string> = {
  invite: 'invite',
  kick: 'leave',
  ban: 'ban',
  unban: 'leave',
};
/** A kick removes a member, rescinds an invite or refuses a knock. */
const KICKABLE: ReadonlySet<string | undefined> = new Set(['join', 'invite', 'knock']);

/** The rooms' store: current memberships, restricted joins, forgetting. */
export type MembershipServiceStorage = Pick<Storage, 'rooms'> & InvitePermissionStorage;

export class MembershipService {
  constructor(
    private readonly storage: MembershipServiceStorage,
    private readonly rooms: RoomService,
    private readonly directory: DirectoryService,
    private readonly memberProfiles: MemberProfiles,
    /** Rooms an admin blocked (Admin API): only leaves and bans may be sent there. */
    private readonly isBlocked: (roomId: string) => Promise<boolean> = async () => false,
  ) {}

  // --- federation joins (issue 25): rooms this server is not in go through another server ---
  private remote: { membership: RemoteMembership; serverName: string } | undefined;

  /** Set once federation is built (app.ts): joins, knocks, leaves and invites reach other servers. */
  useRemote(membership: RemoteMembership, serverName: string): void {
    this.remote = { membership, serverName };
  }

  /**
   * The servers to go through when this server has no joined member in the
   * room (else undefined: the change is a local event): the client's `via`,
   * the alias's, the inviter's, and the room ID's server (v1–11 room IDs).
   */
  private async remoteServers(roomId: string, userId: string, via: string[]) {
    if (!this.remote) return undefined;
    const { serverName } = this.remote;
    if (await this.storage.rooms.hasJoinedMember(roomId, serverName)) return undefined;
    const member = await currentStateEvent(this.storage, roomId, 'm.room.member', userId);
    const servers = [...via, serverNameOf(member?.pdu.sender ?? ''), serverNameOf(roomId)];
    const others = [...new Set(servers)].filter((s): s is string => !!s && s !== serverName);
    return others.length > 0 ? others : undefined;
  }

  private async memberContent(userId: string, membership: string, reason?: string) {
    const content: JsonObject = { membership };
    if (reason !== undefined) content.reason = reason;
    const draft = { type: 'm.room.member', stateKey: userId, content };
    return (await this.memberProfiles.complete(draft)).content;
  }

  private async resolveRoom(roomIdOrAlias: string): Promise<{ roomId: string; via: string[] }> {
    const alias = roomIdOrAlias.startsWith('#') ? roomIdOrAlias : undefined;
    if (alias && this.remote && serverNameOf(alias) !== this.remote.serverName) {
      const found = await this.remote.membership.resolveAlias(alias);
      return { roomId: found.room_id, via: found.servers };
    }
    return { roomId: await this.roomIdOf(roomIdOrAlias), via: [] };
  }

  /**
   * The room a join or knock is for, refused if blocked here (before any
   * remote server is asked), and the servers to go through when it is remote.
   */
  private async joinTarget(roomIdOrAlias: string, userId: string, via: string[]) {
    const resolved = await this.resolveRoom(roomIdOrAlias);
    const roomId = resolved.roomId;
    await this.refuseIfBlocked(roomId);
    const servers = await this.remoteServers(roomId, userId, [...via, ...resolved.via]);
    return { roomId, servers };
  }
  // --- end federation joins ---

  private async refuseIfBlocked(roomId: string): Promise<void> {
    if (await this.isBlocked(roomId)) {
      throw errors.forbidden('This room has been blocked on this server');
    }
  }

  /** Joins a room named by ID or alias (`via`: servers to join a remote room through); answers the room ID. */
  async join(
    owner: TokenOwner,
    roomIdOrAlias: string,
    reason?: string,
    via: string[] = [],
  ): Promise<string> {
    const { roomId, servers } = await this.joinTarget(roomIdOrAlias, owner.userId, via);
    if (servers && this.remote) {
      const content = await this.memberContent(owner.userId, 'join', reason);
      await this.remote.membership.join(owner.userId, roomId, servers, content);
      return roomId;
    }
    if (owner.isGuest) await this.requireGuestAccess(roomId);
    const authoriser = await restrictedJoinAuthoriser(this.storage, roomId, owner.userId);
    const extra: JsonObject = authoriser ? { join_authorised_via_users_server: authoriser } : {};
    await this.sendMember(roomId, owner.userId, owner.userId, 'join', reason, extra);
    return roomId;
  }

  /** Asks to be invited; the auth rules allow it only where the join rule says knock. */
  async knock(
    userId: string,
    roomIdOrAlias: string,
    reason?: string,
    via: string[] = [],
  ): Promise<string> {
    const { roomId, servers } = await this.joinTarget(roomIdOrAlias, userId, via);
    if (servers && this.remote) {
      const content = await this.memberContent(userId, 'knock', reason);
      await this.remote.membership.knock(userId, roomId, servers, content);
      return roomId;
    }
    await this.sendMember(roomId, userId, userId, 'knock', reason);
    return roomId;
  }

  async leave(userId: string, roomId: string, reason?: string): Promise<void> {
    // An invite or knock to a room we are not in is answered through the server it came from.
    const servers = await this.remoteServers(roomId, userId, []);
    if (servers && this.remote) {
      const content: JsonObject = { membership: 'leave' };
      if (reason !== undefined) content.reason = reason;
      await this.remote.membership.leave(userId, roomId, servers, content);
      return;
    }
    await this.sendMember(roomId, userId, userId, 'leave', reason);
  }

  /** Invite, kick, ban or unban `target` in the name of `userId`. */
  async act(
    action: MemberAction,
    userId: string,
    roomId: string,
    target: string,
    reason?: string,
  ): Promise<void> {
    // Kick and unban send a leave, which the auth rules would also allow from a banned or
    // absent target: an unban must lift a ban, a kick must remove someone there (as Synapse).
    if (action === 'kick' || action === 'unban') {
      await this.rooms.requireRoom(roomId);
      const current = await currentMembership(this.storage, roomId, target);
      if (action === 'unban' && current !== 'ban') {
        throw new MatrixError(403, 'M_BAD_STATE', `${target} is not banned`);
      }
      if (action === 'kick' && !KICKABLE.has(current)) {
        throw new MatrixError(403, 'M_BAD_STATE', `${target} is not in the room`);
      }
    }
    if (action === 'invite') await refuseBlockedInvite(this.storage, target);
    if (action === 'invite' && this.remote && serverNameOf(target) !== this.remote.serverName) {
      await this.rooms.requireRoom(roomId);
      const content = await this.memberContent(target, 'invite', reason);
      await this.remote.membership.invite(userId, roomId, target, content);
      return;
    }
    await this.sendMember(roomId, userId, target, MEMBERSHIP_OF_ACTION[action], reason);
  }

  /** Ends a former member's access to the room's history (until a new membership). */
  async forget(userId: string, roomId: string): Promise<void> {
    const membership = await currentMembership(this.storage, roomId, userId);
    if (membership === undefined) throw errors.notFound('You were never in this room');
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      throw errors.unknown('Leave the room before forgetting it');
    }
    await this.storage.rooms.forgetRoom(userId, roomId);
  }

  private async roomIdOf(roomIdOrAlias: string): Promise<string> {
    return roomIdOrAlias.startsWith('#')
      ? (await this.directory.resolve(roomIdOrAlias)).room_id
      : roomIdOrAlias;
  }

  /** Guests join only rooms whose m.room.guest_access is can_join (guest access module). */
  private async requireGuestAccess(roomId: string): Promise<void> {
    const event = await currentStateEvent(this.storage, roomId, 'm.room.guest_access', '');
    if (event?.pdu.content.guest_access !== 'can_join') throw errors.guestAccessForbidden();
  }

  private async sendMember(
    roomId: string,
    sender: string,
    target: string,
    membership: string,
    reason: string | undefined,
    extra: JsonObject = {},
  ): Promise<void> {
    // As Synapse: every membership but leave and ban is refused in a blocked room.
    if (membership !== 'leave' && membership !== 'ban') await this.refuseIfBlocked(roomId);
    const content: JsonObject = { ...extra, membership };
    if (reason !== undefined) content.reason = reason;
    const draft = { type: 'm.room.member', stateKey: target, content };
    await this.rooms.send(roomId, sender, await this.memberProfiles.complete(draft));
  }
}
