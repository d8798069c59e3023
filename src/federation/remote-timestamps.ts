/**
 * `timestamp_to_event` asked of a room's other servers, when what we hold
 * has nothing that way or borders a gap (rooms/event-by-timestamp.ts): the
 * servers of its joined members, the creator's first (the spec's hint: the
 * servers in the room longest know the most), those the room's ACL denies
 * left out. The event a server names must lie the way asked and be the event
 * it claims: fetched by `/event` (unless held), its format, event ID,
 * signatures and hash checked (MembershipChecks.verify) and its time the one
 * named; else the next server is asked.
 *
 * The event is not stored: what it names can be read from that server's
 * history (backfill), which is where a client goes next (`/context` needs it
 * held; see docs/federation.md, "Not built yet").
 */
import type { Logger } from 'pino';
import { ROOM_VERSIONS, type RoomVersion } from '../events/room-versions.js';
import type { FoundEvent, RemoteTimestamps, TimestampQuery } from '../rooms/event-by-timestamp.js';
import type { DeviceListStore, RoomStore } from '../storage/storage.js';
import type { FederationDirectoryClient } from './directory-client.js';
import { liesTowards, serversToAsk } from './directory-rules.js';
import type { MembershipChecks } from './membership-checks.js';
import type { ServerAclCheck } from './server-acl.js';

/** Servers asked in turn before giving up. */
const MAX_SERVERS_ASKED = 5;

export interface RemoteTimestampDeps {
  serverName: string;
  storage: {
    rooms: Pick<RoomStore, 'getRoom' | 'heldEvents'>;
    deviceLists: Pick<DeviceListStore, 'joinedMembers'>;
  };
  client: Pick<FederationDirectoryClient, 'timestampToEvent' | 'event'>;
  checks: Pick<MembershipChecks, 'verify'>;
  acl: Pick<ServerAclCheck, 'isAllowed'>;
  logger: Pick<Logger, 'info'>;
}

export class RemoteTimestampLookup implements RemoteTimestamps {
  constructor(private readonly deps: RemoteTimestampDeps) {}

  async nearest(roomId: string, query: TimestampQuery): Promise<FoundEvent | undefined> {
    const room = await this.deps.storage.rooms.getRoom(roomId);
    const version = room && ROOM_VERSIONS.get(room.version);
    if (!room || !version) return undefined;
    for (const server of await this.servers(roomId, room.creator)) {
      const named = await this.deps.client.timestampToEvent(server, roomId, query);
      if (!named || !liesTowards(query.ts, query.direction, named.originServerTs)) continue;
      if (await this.isGenuine(server, roomId, version, named)) return named;
      this.deps.logger.info(
        { server, roomId, eventId: named.eventId },
        'federation: timestamp_to_event named an event that failed its checks',
      );
    }
    return undefined;
  }

  private async servers(roomId: string, creator: string): Promise<string[]> {
    const joined = await this.deps.storage.deviceLists.joinedMembers(roomId);
    const allowed: string[] = [];
    for (const server of serversToAsk(joined, creator, this.deps.serverName)) {
      if (allowed.length === MAX_SERVERS_ASKED) break;
      if (await this.deps.acl.isAllowed(roomId, server)) allowed.push(server);
    }
    return allowed;
  }

  /** Whether the event named is in the room, is what it claims, and has the time named. */
  private async isGenuine(
    server: string,
    roomId: string,
    version: RoomVersion,
    named: FoundEvent,
  ): Promise<boolean> {
    const [held] = await this.deps.storage.rooms.heldEvents([named.eventId]);
    if (held) {
      const accepted = held.roomId === roomId && held.rejectedReason === undefined;
      return accepted && held.pdu.origin_server_ts === named.originServerTs;
    }
    const json = await this.deps.client.event(server, named.eventId);
    if (json === undefined) return false;
    const verified = await this.deps.checks.verify(json, version, roomId);
    return (
      verified.ok &&
      verified.value.eventId === named.eventId &&
      verified.value.pdu.origin_server_ts === named.originServerTs
    );
  }
}
