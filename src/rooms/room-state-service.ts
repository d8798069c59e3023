/**
 * A room's current members, and state events sent through PUT /state with the
 * checks the auth rules do not make. (The state as a user may read it is
 * HistoryService's: who may read up to where.)
 */
import { refuseBlockedInvite, type InvitePermissionStorage } from './invite-permission.js';
import type { JsonObject } from '../events/pdu.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { MemberProfiles } from './member-profiles.js';
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import type { DirectoryStore, EventRecord } from '../storage/storage.js';
import { currentMembership, currentStateEvent } from './current-membership.js';
import { parseAlias } from './directory-service.js';
import type { EventDraft, RoomService } from './room-service.js';

const CANONICAL_ALIAS = 'm.room.canonical_alias';

/** A joined member's profile as /joined_members gives it. */
export interface JoinedMemberProfile {
  display_name?: string;
  avatar_url?: string;
}

/** The room's current state and members, the user's joined rooms, and the aliases an edit names. */
export interface RoomStateServiceStorage extends InvitePermissionStorage {
  rooms: RoomStateReader & MembershipReader;
  directory: DirectoryStore;
}

export class RoomStateService {
  constructor(
    private readonly storage: RoomStateServiceStorage,
    private readonly rooms: RoomService,
    private readonly memberProfiles: MemberProfiles,
  ) {}

  /** Sends a state event (PUT /rooms/{roomId}/state/{type}/{stateKey}); answers its ID. */
  async put(
    userId: string,
    roomId: string,
    type: string,
    stateKey: string,
    content: JsonObject,
    /** An application service's `?ts=` (EventDraft.originServerTs). */
    timestamp: Pick<EventDraft, 'originServerTs'> = {},
  ): Promise<string> {
    if (type === CANONICAL_ALIAS && stateKey === '') await this.checkNewAliases(roomId, content);
    if (type === 'm.room.member' && content.membership === 'invite') {
      await refuseBlockedInvite(this.storage, stateKey);
    }
    // A member event sent as state gets the profile too, where its content leaves it out.
    const draft = {
      ...(await this.memberProfiles.complete({ type, stateKey, content })),
      ...timestamp,
    };
    return (await this.rooms.send(roomId, userId, draft)).eventId;
  }

  /** The joined members and their profiles, for members only. */
  async joinedMembers(
    userId: string,
    roomId: string,
  ): Promise<Record<string, JoinedMemberProfile>> {
    await this.rooms.requireRoom(roomId);
    if ((await currentMembership(this.storage, roomId, userId)) !== 'join') {
      throw errors.forbidden('You are not in this room');
    }
    const joined: Record<string, JoinedMemberProfile> = {};
    for (const event of await this.currentMemberEvents(roomId)) {
      if (event.pdu.content.membership !== 'join') continue;
      const { displayname, avatar_url: avatarUrl } = event.pdu.content;
      const profile: JoinedMemberProfile = {};
      if (typeof displayname === 'string') profile.display_name = displayname;
      if (typeof avatarUrl === 'string') profile.avatar_url = avatarUrl;
      joined[event.pdu.state_key!] = profile;
    }
    return joined;
  }

  async joinedRooms(userId: string): Promise<string[]> {
    return this.storage.rooms.roomsWithMembership(userId, 'join');
  }

  private async currentMemberEvents(roomId: string): Promise<EventRecord[]> {
    const ids = [...(await this.storage.rooms.currentStateIds(roomId)).values()];
    return (await this.storage.rooms.getEvents(ids)).filter((e) => e.pdu.type === 'm.room.member');
  }

  /**
   * room_state.yaml: the aliases an m.room.canonical_alias event adds must be
   * valid (400 M_INVALID_PARAM) and point to the room (400 M_BAD_ALIAS); those
   * already listed, or removed, are not checked. Without federation another
   * server's alias cannot be looked up, so it cannot be shown to point here.
   */
  private async checkNewAliases(roomId: string, content: JsonObject): Promise<void> {
    const current = await currentStateEvent(this.storage, roomId, CANONICAL_ALIAS, '');
    const listed = new Set(current ? aliasesIn(current.pdu.content) : []);
    const alt = content.alt_aliases;
    if (alt !== undefined && !Array.isArray(alt))
      throw errors.invalidParam('alt_aliases must be an array');
    for (const alias of aliasesIn(content)) {
      if (listed.has(alias)) continue;
      if (typeof alias !== 'string') throw errors.invalidParam('Aliases must be strings');
      parseAlias(alias);
      if ((await this.storage.directory.getAlias(alias))?.roomId !== roomId) {
        throw new MatrixError(400, 'M_BAD_ALIAS', `The alias ${alias} does not point to this room`);
      }
    }
  }
}

/** `alias` and `alt_aliases` of m.room.canonical_alias content, whatever their types. */
function aliasesIn(content: JsonObject): unknown[] {
  const { alias, alt_aliases: alt } = content;
  return [
    ...(alias === undefined || alias === null ? [] : [alias]),
    ...(Array.isArray(alt) ? alt : []),
  ];
}
