/**
 * Room aliases and the published room directory (client-server API, "Room
 * aliases" and "Listing rooms"). Only this server's aliases are created and
 * resolved here (remote ones go through federation/remote-membership.ts);
 * another server's directory (`server=`) is asked of it over federation
 * (federation/directory-client.ts) once `useRemote` gave the client.
 */
import type { Config } from '../config/config.js';
import { authStateOf, stateMapKey, type AuthState } from '../events/auth-rules.js';
import { membershipOf } from '../events/auth/auth-state.js';
import type { JsonObject } from '../events/pdu.js';
import { powerLevelOf, requiredLevelForEvent } from '../events/power-levels.js';
import { isValidServerName } from '../events/auth/ids.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { RoomStateReader, UserReader } from '../storage/readers.js';
import type { DirectoryStore, PublishedRoom } from '../storage/storage.js';
import { isWorldReadable } from './current-membership.js';
import type { RoomService } from './room-service.js';
import { roomSummary, SUMMARY_STATE_TYPES } from './room-summary.js';
import { roomVersion } from '../events/room-versions.js';

/** The spec caps a room alias, sigil and server name included, at 255 bytes. */
const MAX_ALIAS_BYTES = 255;
/** host (DNS name, IPv4 or [IPv6]) and an optional port: the appendix's server name grammar. */
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::\d{1,5})?$/;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;
/** Published rooms read per scan while a filter is looking for matches. */
const SCAN_BATCH = 100;

/** Admins (by power) are those who may edit the alias list the room advertises. */
const ADMIN_EVENT = 'm.room.canonical_alias';

export type Visibility = 'public' | 'private';

export interface PublicRoomsQuery {
  limit?: number;
  since?: string;
  server?: string;
  searchTerm?: string;
  /** `null` in the list stands for rooms without a type. */
  roomTypes?: (string | null)[];
  /** Another list than the server's published rooms (an application service's network's). */
  list?: PublishedList;
  /** The networks asked for, as the request named them: passed on to another server. */
  network?: { thirdPartyInstanceId?: string; includeAllNetworks: boolean };
}

/** Another server's directory, asked over federation (federation/directory-client.ts). */
export interface RemoteDirectory {
  /** Its answer, kept to the spec's shape; a MatrixError when it gives none. */
  publicRooms(server: string, query: PublicRoomsQuery): Promise<JsonObject>;
}

/** A list of published rooms in the directory's order: the server's, or an application service's. */
export type PublishedList = Pick<DirectoryStore, 'scanPublished' | 'countPublished'>;

/** `#localpart:server_name`; the localpart may hold anything but `:` and NUL. */
export function parseAlias(alias: string): { localpart: string; serverName: string } {
  const match = /^#([^:\0]+):(.+)$/s.exec(alias);
  if (!match || !SERVER_NAME.test(match[2]!) || Buffer.byteLength(alias) > MAX_ALIAS_BYTES) {
    throw errors.invalidParam(`Invalid room alias: ${alias}`);
  }
  return { localpart: match[1]!, serverName: match[2]! };
}

/** The alias createRoom's `room_alias_name` stands for. */
export function localAliasFor(name: string, serverName: string): string {
  const alias = `#${name}:${serverName}`;
  if (name.includes(':')) throw errors.invalidParam('room_alias_name may not contain ":"');
  parseAlias(alias);
  return alias;
}

export const roomInUse = (alias: string) =>
  new MatrixError(400, 'M_ROOM_IN_USE', `Room alias ${alias} is already taken`);

/** The aliases and the published list, the rooms' current state, and who is a server admin. */
export interface DirectoryServiceStorage {
  directory: DirectoryStore;
  rooms: RoomStateReader;
  users: UserReader;
}

export class DirectoryService {
  private remote: RemoteDirectory | undefined;

  constructor(
    private readonly config: Config,
    private readonly storage: DirectoryServiceStorage,
    private readonly rooms: RoomService,
    /** Application services asked about unknown aliases in their namespaces (appservice-queries.ts). */
    private readonly aliasQueries?: { aliasExists(alias: string): Promise<boolean> },
  ) {}

  /** Other servers' directories are asked of them from now on (federation is built after us). */
  useRemote(remote: RemoteDirectory): void {
    this.remote = remote;
  }

  async resolve(alias: string): Promise<{ room_id: string; servers: string[] }> {
    let record = this.isLocal(alias) ? await this.storage.directory.getAlias(alias) : undefined;
    // As Synapse: a service answering 200 has just created the alias; look again.
    if (!record && this.isLocal(alias) && (await this.aliasQueries?.aliasExists(alias))) {
      record = await this.storage.directory.getAlias(alias);
    }
    if (!record) throw errors.notFound(`Room alias ${alias} not found`);
    // Every member is local until federation, so this server is the only one to ask.
    return { room_id: record.roomId, servers: [this.config.server_name] };
  }

  async createAlias(alias: string, roomId: string, userId: string): Promise<void> {
    if (!this.isLocal(alias)) {
      throw errors.invalidParam(`Only aliases on ${this.config.server_name} can be created here`);
    }
    const state = await this.authState(roomId, userId);
    if (membershipOf(state, userId) !== 'join') throw errors.forbidden('You are not in this room');
    const created = await this.storage.directory.createAlias(
      { alias, roomId, creator: userId },
      Date.now(),
    );
    if (!created) throw errors.unknown(`Room alias ${alias} already exists`, 409);
  }

  /** Its creator, an admin of its room or a server admin may delete an alias. */
  async deleteAlias(alias: string, userId: string): Promise<void> {
    const record = this.isLocal(alias) ? await this.storage.directory.getAlias(alias) : undefined;
    if (!record) throw errors.notFound(`Room alias ${alias} not found`);
    const allowed =
      record.creator === userId ||
      (await this.isRoomAdmin(record.roomId, userId)) ||
      (await this.isServerAdmin(userId));
    if (!allowed) throw errors.forbidden('Only its creator or a room admin may delete this alias');
    await this.storage.directory.deleteAlias(alias);
  }

  /** Members only, but anyone in a room whose history is world_readable (directory.yaml). */
  async localAliases(roomId: string, userId: string): Promise<string[]> {
    const state = await this.authState(roomId, userId);
    const allowed =
      membershipOf(state, userId) === 'join' || (await isWorldReadable(this.storage, roomId));
    if (!allowed) throw errors.forbidden('You are not in this room');
    return this.storage.directory.aliasesOfRoom(roomId);
  }

  async visibility(roomId: string): Promise<Visibility> {
    await this.rooms.requireRoom(roomId);
    return (await this.storage.directory.isPublished(roomId)) ? 'public' : 'private';
  }

  /**
   * Publishing advertises the room in this server's name, so it takes what
   * curating the room's advertised aliases takes (Synapse's rule too), or a server admin.
   */
  async setVisibility(roomId: string, userId: string, visibility: Visibility): Promise<void> {
    await this.rooms.requireRoom(roomId);
    if (!(await this.isRoomAdmin(roomId, userId)) && !(await this.isServerAdmin(userId))) {
      throw errors.forbidden(`Publishing needs the power to send ${ADMIN_EVENT}`);
    }
    await this.storage.directory.setPublished(roomId, visibility === 'public', Date.now());
  }

  async publicRooms(query: PublicRoomsQuery): Promise<JsonObject> {
    const limit = Math.min(query.limit ?? DEFAULT_PAGE, MAX_PAGE);
    if (limit < 1) throw errors.invalidParam('limit must be positive');
    if (this.isRemoteServer(query.server)) return this.remotePublicRooms(query.server, query);
    // The filter reads each room's summary; the page reuses what it read.
    const summaries = new Map<string, JsonObject>();
    const accept = async (roomId: string) => {
      const summary = await this.summary(roomId);
      summaries.set(roomId, summary);
      return matchesFilter(summary, query);
    };
    const list = query.list ?? this.storage.directory;
    const page = await publishedPage(list, limit, query.since, accept);
    if (!page) throw errors.invalidParam('Unknown since token');
    return {
      chunk: page.roomIds.map((id) => summaries.get(id)!),
      ...(page.nextBatch === undefined ? {} : { next_batch: page.nextBatch }),
      ...(page.prevBatch === undefined ? {} : { prev_batch: page.prevBatch }),
      total_room_count_estimate: page.total,
    };
  }

  /** Whether `server` names another server than ours (which the client then wants asked). */
  isRemoteServer(server: string | undefined): server is string {
    return server !== undefined && server !== this.config.server_name;
  }

  private async remotePublicRooms(server: string, query: PublicRoomsQuery): Promise<JsonObject> {
    if (!isValidServerName(server)) throw errors.invalidParam(`Invalid server name: ${server}`);
    if (!this.remote) throw errors.notFound("Other servers' directories need federation");
    return this.remote.publicRooms(server, query);
  }

  /** A published room as the directory shows it, from its current state. */
  private async summary(roomId: string): Promise<JsonObject> {
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const types = SUMMARY_STATE_TYPES.flatMap((type) => ids.get(stateMapKey(type, '')) ?? []);
    const contents = new Map(
      (await this.storage.rooms.getEvents(types)).map((e) => [e.pdu.type, e.pdu.content]),
    );
    const joined = await this.storage.directory.joinedMemberCount(roomId);
    return roomSummary(roomId, (type) => contents.get(type), joined);
  }

  /** The state the membership and power checks read: create, power levels, the user's membership. */
  private async authState(roomId: string, userId: string): Promise<AuthState> {
    await this.rooms.requireRoom(roomId);
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const wanted = [
      stateMapKey('m.room.create', ''),
      stateMapKey('m.room.power_levels', ''),
      stateMapKey('m.room.member', userId),
    ].flatMap((key) => ids.get(key) ?? []);
    return authStateOf(await this.storage.rooms.getEvents(wanted));
  }

  private async isRoomAdmin(roomId: string, userId: string): Promise<boolean> {
    const room = await this.storage.rooms.getRoom(roomId);
    if (!room) return false;
    const state = await this.authState(roomId, userId);
    const version = roomVersion(room.version);
    return (
      membershipOf(state, userId) === 'join' &&
      powerLevelOf(userId, state, version) >=
        requiredLevelForEvent(ADMIN_EVENT, true, state, version)
    );
  }

  private async isServerAdmin(userId: string): Promise<boolean> {
    return (await this.storage.users.getUser(userId))?.isAdmin === true;
  }

  private isLocal(alias: string): boolean {
    return parseAlias(alias).serverName === this.config.server_name;
  }
}

type Accept = (roomId: string) => Promise<boolean>;

interface PublishedPage {
  roomIds: string[];
  /** Tokens for the pages after and before: absent when nothing more matches that way. */
  nextBatch?: string;
  prevBatch?: string;
  /** Every published room, before any filter. */
  total: number;
}

/**
 * A page of the accepted published rooms from the `since` token (the
 * directory's stable order, forward or back as the token says); undefined
 * for a token the store did not issue. One extra match tells whether
 * anything lies beyond the page; on the other side, a look for one match.
 */
async function publishedPage(
  directory: PublishedList,
  limit: number,
  since: string | undefined,
  accept: Accept,
): Promise<PublishedPage | undefined> {
  const found = await acceptedFrom(directory, since, limit + 1, accept);
  if (!found) return undefined;
  const { direction, rooms } = found;
  const page = rooms.slice(0, limit);
  if (direction === 'backward') page.reverse();
  const total = await directory.countPublished();
  const first = page[0];
  const last = page.at(-1);
  if (!first || !last) return { roomIds: [], total };
  const more = rooms.length > limit;
  const hasAfter =
    direction === 'forward' ? more : await anyAcceptedFrom(directory, last.laterToken, accept);
  const hasBefore =
    direction === 'backward'
      ? more
      : since !== undefined && (await anyAcceptedFrom(directory, first.earlierToken, accept));
  return {
    roomIds: page.map((room) => room.roomId),
    ...(hasAfter ? { nextBatch: last.laterToken } : {}),
    ...(hasBefore ? { prevBatch: first.earlierToken } : {}),
    total,
  };
}

async function anyAcceptedFrom(
  directory: PublishedList,
  token: string,
  accept: Accept,
): Promise<boolean> {
  return ((await acceptedFrom(directory, token, 1, accept))?.rooms.length ?? 0) > 0;
}

/** Up to `wanted` accepted rooms beyond the token's place, nearest first, read in batches. */
async function acceptedFrom(
  directory: PublishedList,
  since: string | undefined,
  wanted: number,
  accept: Accept,
): Promise<{ direction: 'forward' | 'backward'; rooms: PublishedRoom[] } | undefined> {
  const rooms: PublishedRoom[] = [];
  let token = since;
  for (;;) {
    const scan = await directory.scanPublished({ since: token, limit: SCAN_BATCH });
    if (!scan) return undefined;
    const { direction } = scan;
    for (const room of scan.rooms) {
      if (await accept(room.roomId)) rooms.push(room);
      if (rooms.length === wanted) return { direction, rooms };
    }
    const last = scan.rooms.at(-1);
    if (!last || scan.rooms.length < SCAN_BATCH) return { direction, rooms };
    token = direction === 'forward' ? last.laterToken : last.earlierToken;
  }
}

/** Whether a room's summary passes the query's filter: room types, then the search term. */
export function matchesFilter(
  summary: JsonObject,
  query: Pick<PublicRoomsQuery, 'roomTypes' | 'searchTerm'>,
): boolean {
  if (query.roomTypes !== undefined) {
    const type = typeof summary.room_type === 'string' ? summary.room_type : null;
    if (!query.roomTypes.includes(type)) return false;
  }
  const term = query.searchTerm?.toLowerCase();
  if (!term) return true;
  return [summary.name, summary.topic, summary.canonical_alias].some(
    (field) => typeof field === 'string' && field.toLowerCase().includes(term),
  );
}
