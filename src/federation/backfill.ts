/**
 * Backfill for clients: when a local client pages back (`/messages`,
 * direction `b`) past the oldest event this server holds of a room it joined
 * over federation, the earlier history is asked of the servers in the room
 * (`GET /_matrix/federation/v1/backfill/{roomId}?v=…&limit=…`), as Synapse's
 * `maybe_backfill` does:
 *
 *   - from the room's backward extremities: the prev_events of its oldest
 *     held events that are not held in the timeline (an outlier, known from
 *     a join's state or an auth chain, counts as not held: it has no place yet);
 *   - of the servers with joined members now, the room creator's first (it
 *     has been there longest), then the others, ours and those the room's
 *     server ACL denies left out; the next one is tried when one fails or
 *     has nothing new;
 *   - each event then gets the receiver's checks (EventReceiver.receiveBackfilled)
 *     and is stored as history: at positions below everything the room holds
 *     (storage's reserveBackfillPositions), with its state, but no extremity,
 *     current state, notification, push or /sync of its own.
 *
 * One backfill per room at a time: a second client paging back meanwhile
 * waits, then finds the events stored.
 */
import type { Logger } from 'pino';
import { serverNameOf } from '../events/auth/ids.js';
import { indexedRelationOf } from '../events/relations.js';
import type { DeviceListStore, NewRoomEvent, RoomStore } from '../storage/storage.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { BackfilledEventWriter, EventReceiver, ReceivedEventWrite } from './event-receiver.js';
import type { FederationSender } from './outbound.js';
import type { ServerAclCheck } from './server-acl.js';

/** Events asked for per request: Synapse's figure, and what /backfill serves at most. */
const BACKFILL_LIMIT = 100;
/** The oldest events looked at for missing prev_events. */
const OLDEST_EVENTS_READ = 20;
/** Backward extremities named per request (as Synapse, a handful is enough to go on). */
const MAX_EXTREMITIES = 5;
/** Servers asked in turn before giving up for this request. */
const MAX_SERVERS_TRIED = 5;
const BACKFILL_TIMEOUT_MS = 30_000;

export interface BackfillStorage {
  rooms: Pick<
    RoomStore,
    'getRoom' | 'roomEvents' | 'heldEvents' | 'persistEvents' | 'reserveBackfillPositions'
  >;
  deviceLists: Pick<DeviceListStore, 'joinedMembers'>;
}

export interface BackfillDeps {
  serverName: string;
  storage: BackfillStorage;
  sender: FederationSender;
  receiver: Pick<EventReceiver, 'receiveBackfilled'>;
  acl: Pick<ServerAclCheck, 'isAllowed'>;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export class Backfill {
  private readonly lock = new KeyedLock();
  private readonly writer: BackfilledEventWriter;

  constructor(private readonly deps: BackfillDeps) {
    const rooms = deps.storage.rooms;
    this.writer = {
      reservePositions: (count) => rooms.reserveBackfillPositions(count),
      persistBackfilled: async (roomId, write, position) => {
        await rooms.persistEvents([historicEvent(roomId, write, position)]);
      },
    };
  }

  /**
   * Fetches the history before the room's oldest held events; true when any
   * event was stored (the caller reads the room again), false when there is
   * nothing earlier to fetch or no server gave any.
   */
  backfill(roomId: string): Promise<boolean> {
    return this.lock.run(roomId, () => this.backfillRoom(roomId));
  }

  private async backfillRoom(roomId: string): Promise<boolean> {
    const extremities = await this.backwardExtremities(roomId);
    if (extremities.length === 0) return false;
    for (const server of await this.serversToAsk(roomId)) {
      const pdus = await this.request(server, roomId, extremities);
      if (pdus.length === 0) continue;
      const stored = await this.deps.receiver.receiveBackfilled(server, roomId, pdus, this.writer);
      this.deps.logger.info(
        { roomId, server, received: pdus.length, stored },
        'federation: backfill',
      );
      if (stored > 0) return true;
    }
    return false;
  }

  /** The prev_events of the room's oldest held events that have no place in its timeline. */
  async backwardExtremities(roomId: string): Promise<string[]> {
    const oldest = await this.deps.storage.rooms.roomEvents({
      roomId,
      after: Number.MIN_SAFE_INTEGER,
      upTo: Number.MAX_SAFE_INTEGER,
      limit: OLDEST_EVENTS_READ,
      order: 'oldest-first',
    });
    const prevs = [...new Set(oldest.flatMap((event) => event.pdu.prev_events))];
    if (prevs.length === 0) return [];
    const placed = new Set(
      (await this.deps.storage.rooms.heldEvents(prevs))
        .filter((event) => !event.outlier)
        .map((event) => event.eventId),
    );
    return prevs.filter((id) => !placed.has(id)).slice(0, MAX_EXTREMITIES);
  }

  /** The servers of the room's joined members, the creator's first; ours and denied ones left out. */
  private async serversToAsk(roomId: string): Promise<string[]> {
    const room = await this.deps.storage.rooms.getRoom(roomId);
    const creatorServer = room ? serverNameOf(room.creator) : undefined;
    const joined = await this.deps.storage.deviceLists.joinedMembers(roomId);
    const servers = new Set<string>();
    if (creatorServer) servers.add(creatorServer);
    for (const userId of joined) {
      const server = serverNameOf(userId);
      if (server) servers.add(server);
    }
    servers.delete(this.deps.serverName);
    const allowed: string[] = [];
    for (const server of servers) {
      if (allowed.length >= MAX_SERVERS_TRIED) break;
      // The creator's server may have left: asked only while it has a member.
      if (server === creatorServer && !joined.some((id) => serverNameOf(id) === server)) continue;
      if (await this.deps.acl.isAllowed(roomId, server)) allowed.push(server);
    }
    return allowed;
  }

  /** One `/backfill`; a failure (unreachable, an error status, a malformed answer) reads as nothing. */
  private async request(server: string, roomId: string, from: string[]): Promise<unknown[]> {
    const query = [...from.map((id) => `v=${encodeURIComponent(id)}`), `limit=${BACKFILL_LIMIT}`];
    try {
      const response = await this.deps.sender.request({
        destination: server,
        method: 'GET',
        path: `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}?${query.join('&')}`,
        timeoutMs: BACKFILL_TIMEOUT_MS,
      });
      if (response.status !== 200) {
        this.deps.logger.warn({ server, roomId, status: response.status }, 'federation: backfill');
        return [];
      }
      const pdus = (response.body as { pdus?: unknown } | undefined)?.pdus;
      return Array.isArray(pdus) ? pdus : [];
    } catch (err) {
      this.deps.logger.warn({ err, server, roomId }, 'federation: backfill failed');
      return [];
    }
  }
}

/** A checked backfilled event as storage takes it: history at its reserved position. */
function historicEvent(roomId: string, write: ReceivedEventWrite, position: number): NewRoomEvent {
  const { eventId, pdu } = write.event;
  const event: NewRoomEvent = {
    eventId,
    roomId,
    pdu,
    stateBefore: write.stateBefore,
    backfillPosition: position,
  };
  if (write.rejectedReason !== undefined) event.rejectedReason = write.rejectedReason;
  const relation = indexedRelationOf(pdu.content);
  if (relation && write.rejectedReason === undefined) event.relation = relation;
  return event;
}
