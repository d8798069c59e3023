/**
 * What other servers may fetch of a room's events (server-server API,
 * "Retrieving events", "Backfilling and retrieving missing events",
 * "Retrieving event authorisation information"): `/event`, `/state`,
 * `/state_ids`, `/event_auth`, `/get_missing_events`, `/backfill`.
 *
 * Who may: a server with a user joined to the room now (as Synapse's
 * `assert_host_in_room`; else 403 M_FORBIDDEN). What it sees: each event by
 * server-visibility.ts, from the state after the event (outliers, whose state
 * we do not hold, count as `shared`, as Synapse); an event it may not see, or
 * one redacted here, is served redacted, so the DAG it walks stays whole.
 * An unknown event, or one of another room, is 404 M_NOT_FOUND. A server the
 * room's server ACL denies is refused (403 M_FORBIDDEN, server-acl.ts).
 */
import { stateMapKey, splitStateMapKey } from '../events/auth-rules.js';
import type { JsonObject, Pdu } from '../events/pdu.js';
import type { StateIds } from '../events/records.js';
import { redactEvent } from '../events/redaction.js';
import { roomVersion } from '../events/room-versions.js';
import { errors } from '../protocol/errors.js';
import type { HeldEvent } from './event-receiver.js';
import type { MissingEventsQuery } from './retrieval-rules.js';
import type { ServerAclCheck } from './server-acl.js';
import { isUserOfServer, isVisibleToServer } from './server-visibility.js';

/** The reads serving needs (E1's stores). */
export interface ServingStore {
  roomVersion(roomId: string): Promise<string | undefined>;
  /** Held events among these IDs, outliers and rejected ones included, with `redactedBy` when redacted. */
  heldEvents(eventIds: string[]): Promise<(HeldEvent & { redactedBy?: string })[]>;
  /** The state before a timeline event; undefined for outliers and unknown events. */
  stateIdsBefore(eventId: string): Promise<StateIds | undefined>;
  /** The state after a timeline event; undefined for outliers and unknown events. */
  stateIdsAfter(eventId: string): Promise<StateIds | undefined>;
  hasJoinedMember(roomId: string, serverName: string): Promise<boolean>;
}

/** A PDU transaction as `/event` and `/backfill` answer (single_pdu_transaction, unlimited_pdu_transaction). */
export interface PduTransaction {
  origin: string;
  origin_server_ts: number;
  pdus: JsonObject[];
}

/** Synapse's caps: 20 events per /get_missing_events, 100 per /backfill. */
export const MAX_MISSING_EVENTS = 20;
export const MAX_BACKFILL = 100;
/** Auth chains are walked a level at a time; a chain deeper than this is cut (hostile or broken). */
const MAX_AUTH_CHAIN = 50_000;

type Served = HeldEvent & { redactedBy?: string };

export class EventServing {
  constructor(
    private readonly serverName: string,
    private readonly store: ServingStore,
    private readonly now: () => number = Date.now,
    private readonly acl?: Pick<ServerAclCheck, 'requireAllowed'>,
  ) {}

  async event(origin: string, eventId: string): Promise<PduTransaction> {
    const event = await this.requireEvent(eventId);
    await this.requireInRoom(event.roomId, origin);
    return this.transaction(await this.asSeenBy(origin, event.roomId, [event]));
  }

  async stateIds(
    origin: string,
    roomId: string,
    eventId: string,
  ): Promise<{ pdu_ids: string[]; auth_chain_ids: string[] }> {
    const state = await this.stateAt(origin, roomId, eventId);
    const ids = [...state.values()];
    return { pdu_ids: ids, auth_chain_ids: await this.authChainIds(ids) };
  }

  async state(
    origin: string,
    roomId: string,
    eventId: string,
  ): Promise<{ pdus: JsonObject[]; auth_chain: JsonObject[] }> {
    const state = await this.stateAt(origin, roomId, eventId);
    const ids = [...state.values()];
    const chain = await this.authChainIds(ids);
    return {
      pdus: await this.pdusOf(roomId, ids),
      auth_chain: await this.pdusOf(roomId, chain),
    };
  }

  async eventAuth(
    origin: string,
    roomId: string,
    eventId: string,
  ): Promise<{ auth_chain: JsonObject[] }> {
    const event = await this.requireEvent(eventId, roomId);
    await this.requireInRoom(roomId, origin);
    const chain = await this.authChainIds(event.pdu.auth_events, true);
    return { auth_chain: await this.pdusOf(roomId, chain) };
  }

  /**
   * A breadth-first walk of prev_events back from `latest` (not included),
   * skipping `earliest` and events below `minDepth`, up to the limit; the
   * answer oldest first, as Synapse gives it.
   */
  async missingEvents(
    origin: string,
    roomId: string,
    query: MissingEventsQuery,
  ): Promise<{ events: JsonObject[] }> {
    await this.requireKnownRoom(roomId);
    await this.requireInRoom(roomId, origin);
    const limit = Math.min(Math.max(query.limit, 0), MAX_MISSING_EVENTS);
    const seen = new Set([...query.earliest, ...query.latest]);
    const found: Served[] = [];
    let frontier = (await this.inRoom(roomId, query.latest)).flatMap((e) => e.pdu.prev_events);
    while (frontier.length > 0 && found.length < limit) {
      const next = frontier.filter((id) => !seen.has(id));
      next.forEach((id) => seen.add(id));
      const events = (await this.inRoom(roomId, next)).filter(
        (e) => !e.rejectedReason && e.pdu.depth >= query.minDepth,
      );
      found.push(...events.slice(0, limit - found.length));
      frontier = events.flatMap((e) => e.pdu.prev_events);
    }
    const oldestFirst = found.reverse();
    return { events: await this.asSeenBy(origin, roomId, oldestFirst) };
  }

  /** The events given and those before them, newest (deepest) first, up to `limit` (at most 100). */
  async backfill(
    origin: string,
    roomId: string,
    from: string[],
    limit: number,
  ): Promise<PduTransaction> {
    await this.requireKnownRoom(roomId);
    await this.requireInRoom(roomId, origin);
    const max = Math.min(Math.max(limit, 0), MAX_BACKFILL);
    const seen = new Set<string>(from);
    const queue: Served[] = await this.inRoom(roomId, from);
    const found: Served[] = [];
    while (queue.length > 0 && found.length < max) {
      queue.sort((a, b) => b.pdu.depth - a.pdu.depth);
      const event = queue.shift()!;
      if (!event.rejectedReason) found.push(event);
      const prevs = event.pdu.prev_events.filter((id) => !seen.has(id));
      prevs.forEach((id) => seen.add(id));
      queue.push(...(await this.inRoom(roomId, prevs)));
    }
    return this.transaction(await this.asSeenBy(origin, roomId, found));
  }

  // --- helpers ---

  private async stateAt(origin: string, roomId: string, eventId: string): Promise<StateIds> {
    await this.requireEvent(eventId, roomId);
    await this.requireInRoom(roomId, origin);
    const state = await this.store.stateIdsBefore(eventId);
    if (!state) throw errors.notFound(`The state at ${eventId} is not known here`);
    return state;
  }

  private async requireEvent(eventId: string, roomId?: string): Promise<Served> {
    const [event] = await this.store.heldEvents([eventId]);
    if (!event || (roomId !== undefined && event.roomId !== roomId)) {
      throw errors.notFound(`Could not find event ${eventId}`);
    }
    return event;
  }

  private async requireKnownRoom(roomId: string): Promise<void> {
    if ((await this.store.roomVersion(roomId)) === undefined) {
      throw errors.notFound('Unknown room');
    }
  }

  private async requireInRoom(roomId: string, origin: string): Promise<void> {
    if (!(await this.store.hasJoinedMember(roomId, origin))) {
      throw errors.forbidden(`${origin} is not in the room`);
    }
    await this.acl?.requireAllowed(roomId, origin);
  }

  private async inRoom(roomId: string, ids: string[]): Promise<Served[]> {
    if (ids.length === 0) return [];
    return (await this.store.heldEvents(ids)).filter((e) => e.roomId === roomId);
  }

  /** The auth chain of the events: their auth events, recursively (`includeGiven`: the events too). */
  private async authChainIds(ids: readonly string[], includeGiven = false): Promise<string[]> {
    const chain = new Set<string>(includeGiven ? ids : []);
    const visited = new Set<string>();
    let frontier = [...ids];
    while (frontier.length > 0 && chain.size < MAX_AUTH_CHAIN) {
      frontier.forEach((id) => visited.add(id));
      const next: string[] = [];
      for (const event of await this.store.heldEvents(frontier)) {
        for (const authId of event.pdu.auth_events) {
          chain.add(authId);
          if (!visited.has(authId)) next.push(authId);
        }
      }
      frontier = [...new Set(next)];
    }
    return [...chain];
  }

  /** State and auth chain events as PDUs: state is served whole (it is what the room is made of), redactions applied. */
  private async pdusOf(roomId: string, ids: string[]): Promise<JsonObject[]> {
    const version = await this.versionOf(roomId);
    const events = await this.inRoom(roomId, ids);
    return events.map((e) => asPdu(e.redactedBy ? redactEvent(e.pdu, version) : e.pdu));
  }

  /** Each event as the origin may see it: whole, or redacted. */
  private async asSeenBy(origin: string, roomId: string, events: Served[]): Promise<JsonObject[]> {
    const version = await this.versionOf(roomId);
    const served: JsonObject[] = [];
    for (const event of events) {
      const visible = !event.redactedBy && (await this.visibleTo(origin, event));
      served.push(asPdu(visible ? event.pdu : redactEvent(event.pdu, version)));
    }
    return served;
  }

  private async visibleTo(origin: string, event: Served): Promise<boolean> {
    if (event.outlier) return true;
    const state = await this.store.stateIdsAfter(event.eventId);
    if (!state) return true;
    const visibilityId = state.get(stateMapKey('m.room.history_visibility', ''));
    const memberIds = [...state]
      .filter(([key]) => {
        const { type, stateKey } = splitStateMapKey(key);
        return type === 'm.room.member' && isUserOfServer(stateKey, origin);
      })
      .map(([, id]) => id);
    const ids = visibilityId === undefined ? memberIds : [visibilityId, ...memberIds];
    const events = new Map((await this.store.heldEvents(ids)).map((e) => [e.eventId, e]));
    return isVisibleToServer({
      historyVisibilityContent:
        visibilityId === undefined ? undefined : events.get(visibilityId)?.pdu.content,
      serverMemberships: memberIds.flatMap((id) => {
        const member = events.get(id);
        return member ? [member.pdu.content] : [];
      }),
    });
  }

  private async versionOf(roomId: string) {
    const id = await this.store.roomVersion(roomId);
    if (id === undefined) throw errors.notFound('Unknown room');
    return roomVersion(id);
  }

  private transaction(pdus: JsonObject[]): PduTransaction {
    return { origin: this.serverName, origin_server_ts: this.now(), pdus };
  }
}

/** The PDU as sent to another server: without our local `unsigned` notes. */
function asPdu(pdu: Pdu): JsonObject {
  const copy = { ...(pdu as unknown as JsonObject) };
  delete copy.unsigned;
  return copy;
}
