/**
 * The directory queries other servers make of us: our published rooms
 * (`/publicRooms`, what our clients' `/publicRooms` lists), a space and its
 * children (`/hierarchy/{roomId}`, one level: the requesting server walks
 * further), and the event nearest a time (`/timestamp_to_event/{roomId}`,
 * from what we hold only).
 *
 * Who may see what:
 *   - `/hierarchy`: rooms one of our users is joined to, and of those only
 *     what the requesting server may see (directory-rules.ts
 *     mayServerViewRoom); a root it may not see is 404 M_NOT_FOUND, as an
 *     unknown one; children it may not see are named in
 *     `inaccessible_children`, children we do not hold left out;
 *   - `/timestamp_to_event`: as `/event` (event-serving.ts), a server with a
 *     user joined now (else 403 M_FORBIDDEN), and the event visible to it by
 *     history visibility (server-visibility.ts; else 404, as none found);
 *   - both are room-scoped: a server the room's ACL denies is 403.
 */
import { splitStateMapKey, stateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import type { PublishedList, DirectoryService } from '../rooms/directory-service.js';
import type { EventByTimestampService, TimestampQuery } from '../rooms/event-by-timestamp.js';
import type { DescribedRoom, HierarchyService } from '../rooms/hierarchy.js';
import type { RoomStore, StateIds } from '../storage/storage.js';
import { mayServerViewRoom, type FederationPublicRoomsQuery } from './directory-rules.js';
import type { ServerAclCheck } from './server-acl.js';
import { isUserOfServer, isVisibleToServer } from './server-visibility.js';

/** The spec's default for servers is no limit: a page as large as our directory gives. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

export interface DirectoryServingDeps {
  serverName: string;
  /** federation.allow_public_rooms_over_federation: off, other servers get 403. */
  publicRoomsOverFederation: boolean;
  directory: Pick<DirectoryService, 'publicRooms'>;
  /** Application services' networks (appservice/appservice-directory.ts). */
  networks: {
    listFor(thirdPartyInstanceId: string | undefined, all: boolean): PublishedList | undefined;
  };
  hierarchy: Pick<HierarchyService, 'describeLocal'>;
  timestamps: Pick<EventByTimestampService, 'local'>;
  rooms: Pick<
    RoomStore,
    'getRoom' | 'hasJoinedMember' | 'currentStateIds' | 'getEvents' | 'heldEvents' | 'stateIdsAfter'
  >;
  acl: Pick<ServerAclCheck, 'requireAllowed'>;
}

export class DirectoryServing {
  constructor(private readonly deps: DirectoryServingDeps) {}

  /** `GET`/`POST /publicRooms`: our published rooms, or a network's. */
  async publicRooms(query: FederationPublicRoomsQuery): Promise<JsonObject> {
    if (!this.deps.publicRoomsOverFederation) {
      // Synapse's words and status for the same setting.
      throw errors.forbidden(
        `You are not allowed to view the public rooms list of ${this.deps.serverName}`,
      );
    }
    return this.deps.directory.publicRooms({
      limit: query.limit ?? NO_LIMIT,
      since: query.since,
      searchTerm: query.searchTerm,
      roomTypes: query.roomTypes,
      list: this.deps.networks.listFor(query.thirdPartyInstanceId, query.includeAllNetworks),
    });
  }

  /** `GET /hierarchy/{roomId}`: the space, and its children that we hold. */
  async hierarchy(origin: string, roomId: string, suggestedOnly: boolean): Promise<JsonObject> {
    await this.deps.acl.requireAllowed(roomId, origin);
    const root = await this.describeHeld(roomId, suggestedOnly);
    if (!root || !(await this.mayView(origin, root))) throw errors.notFound('Unknown room');
    const children: JsonObject[] = [];
    const inaccessible: string[] = [];
    for (const link of root.children) {
      const child = await this.describeHeld(link.roomId, suggestedOnly);
      if (!child) continue;
      if (await this.mayView(origin, child)) children.push(child.entry);
      else inaccessible.push(link.roomId);
    }
    return { room: root.entry, children, inaccessible_children: inaccessible };
  }

  /** `GET /timestamp_to_event/{roomId}`: the nearest event we hold, if the server may see it. */
  async timestampToEvent(
    origin: string,
    roomId: string,
    query: TimestampQuery,
  ): Promise<{ event_id: string; origin_server_ts: number }> {
    await this.deps.acl.requireAllowed(roomId, origin);
    if (!(await this.deps.rooms.getRoom(roomId))) throw errors.notFound('Unknown room');
    if (!(await this.deps.rooms.hasJoinedMember(roomId, origin))) {
      throw errors.forbidden(`${origin} is not in the room`);
    }
    const found = await this.deps.timestamps.local(roomId, query);
    if (!found || !(await this.isVisibleTo(origin, found.eventId))) {
      const way = query.direction === 'f' ? 'forward' : 'backward';
      throw errors.notFound(`Unable to find event from ${query.ts} in ${way} direction`);
    }
    return { event_id: found.eventId, origin_server_ts: found.originServerTs };
  }

  /** A room one of our users is joined to (others we may hold only stale), described. */
  private async describeHeld(
    roomId: string,
    suggestedOnly: boolean,
  ): Promise<DescribedRoom | undefined> {
    if (!(await this.deps.rooms.hasJoinedMember(roomId, this.deps.serverName))) return undefined;
    return this.deps.hierarchy.describeLocal(roomId, suggestedOnly);
  }

  private async mayView(origin: string, room: DescribedRoom): Promise<boolean> {
    const { access } = room;
    const open = mayServerViewRoom({ ...access, serverInRoom: false, serverInAllowedRoom: false });
    if (open) return true;
    return mayServerViewRoom({
      ...access,
      serverInRoom: await this.hasJoinedOrInvited(room.roomId, origin),
      serverInAllowedRoom: await this.isInAnyRoom(access.allowRoomIds, origin),
    });
  }

  /** Whether one of the server's users is joined or invited now (the current state's members). */
  private async hasJoinedOrInvited(roomId: string, server: string): Promise<boolean> {
    const memberIds = memberEventIdsOf(await this.deps.rooms.currentStateIds(roomId), server);
    const members = await this.deps.rooms.getEvents(memberIds);
    return members.some((e) => ['join', 'invite'].includes(e.pdu.content.membership as string));
  }

  private async isInAnyRoom(roomIds: readonly string[], server: string): Promise<boolean> {
    for (const roomId of roomIds) {
      if (await this.deps.rooms.hasJoinedMember(roomId, server)) return true;
    }
    return false;
  }

  /**
   * History visibility for a server, judged by the state after the event
   * (as `/event` judges it, event-serving.ts): an event without a state of
   * its own here counts as visible, as an outlier does there.
   */
  private async isVisibleTo(origin: string, eventId: string): Promise<boolean> {
    const state = await this.deps.rooms.stateIdsAfter(eventId);
    if (!state) return true;
    const visibilityId = state.get(stateMapKey('m.room.history_visibility', ''));
    const memberIds = memberEventIdsOf(state, origin);
    const ids = visibilityId === undefined ? memberIds : [visibilityId, ...memberIds];
    const events = new Map((await this.deps.rooms.heldEvents(ids)).map((e) => [e.eventId, e]));
    return isVisibleToServer({
      historyVisibilityContent:
        visibilityId === undefined ? undefined : events.get(visibilityId)?.pdu.content,
      serverMemberships: memberIds.flatMap((id) => events.get(id)?.pdu.content ?? []),
    });
  }
}

/** The member events of a state that are about the server's users. */
function memberEventIdsOf(state: StateIds, server: string): string[] {
  return [...state]
    .filter(([key]) => {
      const { type, stateKey } = splitStateMapKey(key);
      return type === 'm.room.member' && isUserOfServer(stateKey, server);
    })
    .map(([, id]) => id);
}
