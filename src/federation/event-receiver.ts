/**
 * Receiving PDUs from other servers: the spec's checks on receipt, in order
 * (server-server API, "Checks performed on receipt of a PDU"):
 *
 *   1. format (pdu-checks.ts) — else dropped;
 *   2. signatures of the servers that must sign, with keys from the key
 *      service — else dropped;
 *   3. content hash — else the redacted copy is what we keep;
 *   4. auth against the event's own auth_events — else rejected. Missing auth
 *      events come from the origin's `/event_auth`, each checked in turn and
 *      stored as an outlier;
 *   5. auth against the state before the event (the states after its
 *      prev_events, resolved when there are several) — else rejected;
 *   6. auth against the room's current state — else soft-failed.
 *
 * A rejected event is still stored (marked, so that it is never fetched or
 * checked again, and so that the state "is calculated as normal, except not
 * updating with the rejected event"); a dropped one is not.
 *
 * Unknown prev_events, how deep we go (as Synapse does):
 *   - a PDU pushed in a /send first has the gap filled with one
 *     `POST /get_missing_events` (limit 10, min_depth the lowest of our
 *     forward extremities); if its prev_events are still unknown after that,
 *     it is refused: a pushed event whose state we would have to take on the
 *     sender's word could become the room's only extremity;
 *   - events pulled that way are processed oldest first; one whose own
 *     prev_events are unknown gets the state after each unknown prev from the
 *     origin (`GET /state_ids?event_id=`, then the events we lack by `/event`,
 *     or `/state` when we lack most of them), stored as outliers, and resolved
 *     with the states of the prevs we know. No further recursion: outliers
 *     whose auth events are missing are dropped.
 *
 * PDUs of one room are processed one at a time, in the order received
 * (KeyedLock per room); rooms run in parallel.
 */
import type { Logger } from 'pino';
import {
  authEventTypesFor,
  authStateOf,
  authorizeEvent,
  describeRefusal,
  stateMapKey,
  type AuthResult,
  type SignatureVerifier,
  type StatePair,
} from '../events/auth-rules.js';
import { eventIdFor } from '../events/hashing.js';
import type { Pdu, StoredEvent } from '../events/pdu.js';
import type { StateIds } from '../events/records.js';
import { ROOM_VERSIONS, type RoomVersion } from '../events/room-versions.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { mapConcurrently } from '../util/map-concurrently.js';
import { pairKey } from '../util/pair-key.js';
import {
  checkContentHash,
  checkPduFormat,
  checkSignatures,
  requiredSigners,
  signedByAnyKey,
  signingKeyIdsOf,
  type CheckedPdu,
} from './pdu-checks.js';
import type { RemoteEvents } from './remote-events.js';

/** An event this server holds, in the room's timeline or as an outlier, rejected or not. */
export interface HeldEvent extends StoredEvent {
  roomId: string;
  /** Why the event was rejected; absent for accepted events. */
  rejectedReason?: string;
  /** Held without a place in the timeline (auth chains, state fetched to fill a gap). */
  outlier: boolean;
}

/** The reads the receiver needs (E1's stores). */
export interface ReceiverStore {
  /** The room's version; undefined for a room this server does not know. */
  roomVersion(roomId: string): Promise<string | undefined>;
  /** The events held among these IDs, outliers and rejected ones included. */
  heldEvents(eventIds: string[]): Promise<HeldEvent[]>;
  /**
   * The state after a timeline event (for a rejected one, the state before it,
   * which it did not change); undefined for outliers and unknown events.
   */
  stateIdsAfter(eventId: string): Promise<StateIds | undefined>;
  forwardExtremities(roomId: string): Promise<{ eventId: string; depth: number }[]>;
  currentStateIdsFor(roomId: string, pairs: StatePair[]): Promise<StateIds>;
  /** Whether any user of `serverName` is joined to the room now. */
  hasJoinedMember(roomId: string, serverName: string): Promise<boolean>;
}

export interface ReceivedEventWrite {
  event: StoredEvent;
  /** The state before the event, from which the state after it follows. */
  stateBefore: StateIds;
  softFailed?: boolean;
  rejectedReason?: string;
}

export interface OutlierWrite {
  event: StoredEvent;
  rejectedReason?: string;
}

/**
 * How received events are stored (E1's RoomService.persistReceived and
 * persistOutliers). Storing an event already held must be a no-op, and an
 * outlier received again for the timeline takes its place there.
 */
export interface ReceivedEventWriter {
  persistReceived(roomId: string, events: ReceivedEventWrite[]): Promise<unknown>;
  persistOutliers(roomId: string, events: OutlierWrite[]): Promise<void>;
}

/**
 * Where backfilled events go (backfill.ts): positions below everything the
 * room holds, and storage without the room's head (no extremity, current
 * state, notification or push: they are history).
 */
export interface BackfilledEventWriter {
  /** `count` positions, highest first (storage's reserveBackfillPositions). */
  reservePositions(count: number): Promise<number[]>;
  persistBackfilled(roomId: string, event: ReceivedEventWrite, position: number): Promise<void>;
}

/** A server's public key by key ID, valid at a time (the key service, A). */
export interface ServerKeyLookup {
  verifyKeyFor(serverName: string, keyId: string, atTs: number): Promise<string | undefined>;
}

/** State resolution across several state sets (C's resolveState). */
export type ResolveState = (input: {
  version: RoomVersion;
  stateSets: StateIds[];
  loadEvents: (eventIds: string[]) => Promise<StoredEvent[]>;
}) => Promise<StateIds>;

export interface EventReceiverDeps {
  serverName: string;
  store: ReceiverStore;
  writer: ReceivedEventWriter;
  keys: ServerKeyLookup;
  remote: RemoteEvents;
  resolveState: ResolveState;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** One PDU's entry in the /send answer: no `error` means it was handled. */
export interface PduResult {
  error?: string;
}

/** The gap one /get_missing_events may fill, as Synapse asks. */
const GAP_LIMIT = 10;
/** A state fetched for one missing prev_event larger than this is refused rather than fetched. */
const MAX_REMOTE_STATE_EVENTS = 10_000;
/** `/event` requests in flight at once when fetching state events one by one. */
const FETCH_CONCURRENCY = 5;
const CREATE_PAIR: StatePair = { type: 'm.room.create', stateKey: '' };

interface Verified {
  checked: CheckedPdu;
  /** The servers whose signatures on it verified. */
  signers: Set<string>;
}

export class EventReceiver {
  private readonly lock = new KeyedLock();

  constructor(private readonly deps: EventReceiverDeps) {}

  /**
   * The PDUs of one transaction from `origin`: the result per event ID. PDUs
   * without a room ID, or of a room this server does not know, are left out
   * of the answer (as Synapse); so are those whose event ID cannot be computed.
   */
  async receivePdus(origin: string, pdus: readonly unknown[]): Promise<Record<string, PduResult>> {
    const byRoom = new Map<string, unknown[]>();
    for (const json of pdus) {
      const roomId = roomIdField(json);
      if (roomId === undefined) {
        this.deps.logger.info({ origin }, 'federation: a PDU without room_id ignored');
        continue;
      }
      byRoom.set(roomId, [...(byRoom.get(roomId) ?? []), json]);
    }
    const results: Record<string, PduResult> = {};
    await Promise.all(
      [...byRoom].map(([roomId, list]) =>
        this.lock.run(roomId, async () => {
          for (const json of list) {
            const outcome = await this.receiveSafely(origin, roomId, json);
            if (outcome) results[outcome.eventId] = outcome.result;
          }
        }),
      ),
    );
    return results;
  }

  private async receiveSafely(
    origin: string,
    roomId: string,
    json: unknown,
  ): Promise<{ eventId: string; result: PduResult } | undefined> {
    const versionId = await this.deps.store.roomVersion(roomId);
    const version = versionId === undefined ? undefined : ROOM_VERSIONS.get(versionId);
    if (!version) {
      this.deps.logger.info({ origin, roomId }, 'federation: a PDU of an unknown room ignored');
      return undefined;
    }
    const format = checkPduFormat(json, version, roomId);
    if (!format.ok) {
      const eventId = bestEffortEventId(json, version);
      return eventId === undefined ? undefined : { eventId, result: { error: format.reason } };
    }
    const { eventId } = format.value;
    try {
      return { eventId, result: await this.receivePushed(origin, version, format.value) };
    } catch (err) {
      this.deps.logger.error({ err, origin, eventId }, 'federation: processing a PDU failed');
      return { eventId, result: { error: 'The event could not be processed' } };
    }
  }

  /**
   * Events a `/backfill` from `origin` answered, for a client paging back:
   * each gets the checks a received PDU gets (format, signatures, hash, auth
   * events fetched when missing, auth against the state before it, which for
   * the oldest comes from the origin's `/state_ids`), oldest first, but no
   * soft-failure check (as Synapse: history is not judged by today's state)
   * and no gap filling. They are stored at positions reserved for the batch,
   * the oldest lowest, so /messages reads them in order before what the room
   * held. Returns how many were stored in the timeline.
   */
  async receiveBackfilled(
    origin: string,
    roomId: string,
    jsons: readonly unknown[],
    writer: BackfilledEventWriter,
  ): Promise<number> {
    return this.lock.run(roomId, async () => {
      const versionId = await this.deps.store.roomVersion(roomId);
      const version = versionId === undefined ? undefined : ROOM_VERSIONS.get(versionId);
      if (!version) return 0;
      const fresh = await this.freshEvents(jsons, version, roomId, { timelineOnly: true });
      if (fresh.length === 0) return 0;
      // Highest first from storage; the oldest event (first here) takes the lowest.
      const positions = (await writer.reservePositions(fresh.length)).reverse();
      let stored = 0;
      const context = { origin, version, roomId, what: 'backfill' };
      await this.eachVerifiedAtItsPlace(context, fresh, async (verified, stateBefore, i) => {
        const judged = await this.authorizeHistoric(origin, version, verified, stateBefore);
        // Its auth events are nowhere: nothing to judge it by, so not stored.
        if (judged === 'unauthorisable') return;
        const write: ReceivedEventWrite = {
          event: { eventId: verified.checked.eventId, pdu: verified.checked.pdu },
          stateBefore,
          ...(judged.rejectedReason === undefined ? {} : { rejectedReason: judged.rejectedReason }),
        };
        await writer.persistBackfilled(roomId, write, positions[i]!);
        if (judged.rejectedReason === undefined) stored++;
      });
      return stored;
    });
  }

  /** Steps 4 and 5 for a historic event: whether it is rejected, and why. */
  private async authorizeHistoric(
    origin: string,
    version: RoomVersion,
    verified: Verified,
    stateBefore: StateIds,
  ): Promise<'unauthorisable' | { rejectedReason: string | undefined }> {
    const authEvents = await this.authEventsFetchingMissing(origin, version, verified.checked);
    if (!authEvents) return 'unauthorisable';
    const rejectedReason =
      this.refusalByAuthEvents(version, verified, authEvents) ??
      (await this.refusalByState(
        version,
        verified.checked.pdu,
        stateBefore,
        verifierFor(verified.signers),
      ));
    return { rejectedReason };
  }

  /** One pushed PDU, already in the right format: steps 2–6 and storage. */
  private async receivePushed(
    origin: string,
    version: RoomVersion,
    checked: CheckedPdu,
  ): Promise<PduResult> {
    const { roomId, eventId } = checked;
    const [held] = await this.deps.store.heldEvents([eventId]);
    if (held && !held.outlier) return held.rejectedReason ? { error: held.rejectedReason } : {};
    if (!(await this.deps.store.hasJoinedMember(roomId, this.deps.serverName))) {
      return { error: 'This server has no user in the room' };
    }
    const verified = await this.verify(checked, version);
    if ('error' in verified) return verified;
    if ((await this.unknownPrevs(checked.pdu)).length > 0) {
      await this.fillGap(origin, version, checked);
      if ((await this.unknownPrevs(checked.pdu)).length > 0) {
        return { error: 'The prev_events of this event could not be retrieved from its origin' };
      }
    }
    const stateBefore = await this.stateBefore(origin, version, roomId, checked.pdu.prev_events);
    return this.authorizeAndStore(origin, version, verified, stateBefore);
  }

  /** Steps 2 and 3: the required signatures, then the content hash (redacting on a mismatch). */
  private async verify(
    checked: CheckedPdu,
    version: RoomVersion,
  ): Promise<Verified | { error: string }> {
    const keys = new Map<string, string>();
    const { pdu } = checked;
    for (const server of requiredSigners(pdu)) {
      for (const keyId of signingKeyIdsOf(pdu, server)) {
        const key = await this.deps.keys
          .verifyKeyFor(server, keyId, pdu.origin_server_ts)
          .catch(() => undefined);
        if (key !== undefined) keys.set(pairKey(server, keyId), key);
      }
    }
    const signatures = checkSignatures(pdu, version, (s, k) => keys.get(pairKey(s, k)));
    if (!signatures.ok) return { error: signatures.reason };
    const hash = checkContentHash(pdu, version);
    if (hash.redacted) {
      this.deps.logger.warn({ eventId: checked.eventId }, 'federation: content hash mismatch');
    }
    return { checked: { ...checked, pdu: hash.pdu }, signers: signatures.value };
  }

  private async unknownPrevs(pdu: Pdu): Promise<string[]> {
    const held = await this.deps.store.heldEvents(pdu.prev_events);
    const inTimeline = new Set(held.filter((e) => !e.outlier).map((e) => e.eventId));
    return pdu.prev_events.filter((id) => !inTimeline.has(id));
  }

  /** One `/get_missing_events` between our forward extremities and the event; what it gives is pulled. */
  private async fillGap(origin: string, version: RoomVersion, checked: CheckedPdu): Promise<void> {
    const { roomId, eventId, pdu } = checked;
    const extremities = await this.deps.store.forwardExtremities(roomId);
    // The prevs we hold are no gap: telling the origin so keeps them out of its answer.
    const unknown = new Set(await this.unknownPrevs(pdu));
    const knownPrevs = pdu.prev_events.filter((id) => !unknown.has(id));
    const earliest = [...new Set([...extremities.map((e) => e.eventId), ...knownPrevs])];
    const minDepth = extremities.length === 0 ? 0 : Math.min(...extremities.map((e) => e.depth));
    const pulled = await this.deps.remote
      .missingEvents(origin, roomId, { earliest, latest: [eventId], limit: GAP_LIMIT, minDepth })
      .catch((err: unknown) => {
        this.deps.logger.warn({ err, origin, eventId }, 'federation: get_missing_events failed');
        return [];
      });
    await this.processPulled(origin, version, roomId, pulled);
  }

  /** Events pulled to fill a gap, oldest first; each may take its state from the origin. */
  private async processPulled(
    origin: string,
    version: RoomVersion,
    roomId: string,
    jsons: readonly unknown[],
  ): Promise<void> {
    const fresh = await this.freshEvents(jsons, version, roomId, { timelineOnly: true });
    const context = { origin, version, roomId, what: 'pulled' };
    await this.eachVerifiedAtItsPlace(context, fresh, (verified, stateBefore) =>
      this.authorizeAndStore(origin, version, verified, stateBefore),
    );
  }

  /**
   * For each event in order: its signatures and hash checked (a bad one is
   * skipped), the state before it (fetched from the origin when unknown),
   * then `handle`. One event's failure is logged and does not stop the rest.
   */
  private async eachVerifiedAtItsPlace(
    context: { origin: string; version: RoomVersion; roomId: string; what: string },
    events: readonly CheckedPdu[],
    handle: (verified: Verified, stateBefore: StateIds, index: number) => Promise<unknown>,
  ): Promise<void> {
    const { origin, version, roomId } = context;
    for (const [i, checked] of events.entries()) {
      const verified = await this.verify(checked, version);
      if ('error' in verified) {
        this.deps.logger.warn({ origin, eventId: checked.eventId }, verified.error);
        continue;
      }
      try {
        const prevs = checked.pdu.prev_events;
        const stateBefore = await this.stateBefore(origin, version, roomId, prevs, true);
        await handle(verified, stateBefore, i);
      } catch (err) {
        this.deps.logger.warn(
          { err, origin, eventId: checked.eventId },
          `federation: ${context.what}`,
        );
      }
    }
  }

  /**
   * Well-formed events of the room among `jsons` that we do not hold yet (in
   * the timeline, with `timelineOnly`; at all otherwise), by depth, oldest first.
   */
  private async freshEvents(
    jsons: readonly unknown[],
    version: RoomVersion,
    roomId: string,
    { timelineOnly }: { timelineOnly: boolean },
  ): Promise<CheckedPdu[]> {
    const byId = new Map<string, CheckedPdu>();
    for (const json of jsons) {
      const format = checkPduFormat(json, version, roomId);
      if (format.ok) byId.set(format.value.eventId, format.value);
    }
    const held = await this.deps.store.heldEvents([...byId.keys()]);
    for (const event of held) {
      if (!timelineOnly || !event.outlier) byId.delete(event.eventId);
    }
    return [...byId.values()].sort(
      (a, b) => a.pdu.depth - b.pdu.depth || (a.eventId < b.eventId ? -1 : 1),
    );
  }

  /**
   * The state before an event: the state after each prev_event, resolved when
   * there are several. With `fetchUnknown`, the state after an unknown prev
   * comes from the origin; without, every prev must be known.
   */
  private async stateBefore(
    origin: string,
    version: RoomVersion,
    roomId: string,
    prevIds: readonly string[],
    fetchUnknown = false,
  ): Promise<StateIds> {
    const sets: StateIds[] = [];
    for (const prevId of prevIds) {
      const known = await this.deps.store.stateIdsAfter(prevId);
      if (known) sets.push(known);
      else if (fetchUnknown)
        sets.push(await this.remoteStateAfter(origin, version, roomId, prevId));
      else throw new Error(`No state known after ${prevId}`);
    }
    if (sets.length <= 1) return sets[0] ?? new Map();
    return this.deps.resolveState({
      version,
      stateSets: sets,
      loadEvents: (ids) => this.deps.store.heldEvents(ids),
    });
  }

  /**
   * The state after an event we lack, from the origin: `/state_ids` gives the
   * state before it and its auth chain; the events we lack come by `/event`
   * (or all of them by `/state` when we lack most, as Synapse decides) and are
   * stored as outliers after their own checks; the event itself is added.
   */
  private async remoteStateAfter(
    origin: string,
    version: RoomVersion,
    roomId: string,
    eventId: string,
  ): Promise<StateIds> {
    const { pduIds, authChainIds } = await this.deps.remote.stateIds(origin, roomId, eventId);
    const wanted = [...new Set([...pduIds, eventId, ...authChainIds])];
    if (wanted.length > MAX_REMOTE_STATE_EVENTS) throw new Error(`State at ${eventId} too large`);
    const held = new Set((await this.deps.store.heldEvents(wanted)).map((e) => e.eventId));
    const missing = wanted.filter((id) => !held.has(id));
    await this.authorizeAndStoreOutliers(
      origin,
      version,
      roomId,
      await this.fetchEvents(origin, roomId, eventId, missing, wanted.length),
    );
    return this.stateMapOf(roomId, pduIds, eventId);
  }

  private async fetchEvents(
    origin: string,
    roomId: string,
    atEventId: string,
    missing: string[],
    total: number,
  ): Promise<unknown[]> {
    if (missing.length === 0) return [];
    if (missing.length * 10 >= total && missing.length > 1) {
      const { pdus, authChain } = await this.deps.remote.state(origin, roomId, atEventId);
      const event = missing.includes(atEventId)
        ? await this.deps.remote.event(origin, atEventId).catch(() => undefined)
        : undefined;
      return [...pdus, ...authChain, ...(event === undefined ? [] : [event])];
    }
    const fetched = await mapConcurrently(missing, FETCH_CONCURRENCY, (id) =>
      this.deps.remote.event(origin, id).catch(() => undefined),
    );
    return fetched.filter((json) => json !== undefined);
  }

  /** A state map from the IDs a remote gave: only accepted state events of this room, then the event itself. */
  private async stateMapOf(roomId: string, stateIds: string[], eventId: string): Promise<StateIds> {
    const state: StateIds = new Map();
    for (const event of await this.deps.store.heldEvents(stateIds)) {
      if (event.roomId !== roomId || event.pdu.state_key === undefined || event.rejectedReason) {
        continue;
      }
      state.set(stateMapKey(event.pdu.type, event.pdu.state_key), event.eventId);
    }
    const [self] = await this.deps.store.heldEvents([eventId]);
    if (!self) throw new Error(`Could not retrieve ${eventId}`);
    if (self.pdu.state_key !== undefined && !self.rejectedReason) {
      state.set(stateMapKey(self.pdu.type, self.pdu.state_key), self.eventId);
    }
    return state;
  }

  /**
   * Events fetched for their own sake (auth chains, state): checked (format,
   * signatures, hash, auth against their own auth events, oldest first so a
   * chain authorises itself) and stored as outliers; rejected ones marked,
   * those whose auth events are nowhere dropped.
   */
  private async authorizeAndStoreOutliers(
    origin: string,
    version: RoomVersion,
    roomId: string,
    jsons: readonly unknown[],
  ): Promise<void> {
    const fresh = await this.freshEvents(jsons, version, roomId, { timelineOnly: false });
    const accepted = new Map<string, HeldEvent>();
    const writes: OutlierWrite[] = [];
    for (const checked of fresh) {
      const verified = await this.verify(checked, version);
      if ('error' in verified) {
        this.deps.logger.warn({ origin, eventId: checked.eventId }, verified.error);
        continue;
      }
      const event = verified.checked;
      const authEvents = await this.loadAuthEvents(version, event, accepted);
      if (!authEvents) {
        this.deps.logger.warn({ origin, eventId: event.eventId }, 'federation: no auth events');
        continue;
      }
      const rejectedReason = this.refusalByAuthEvents(version, verified, authEvents);
      const stored = { eventId: event.eventId, pdu: event.pdu };
      writes.push(rejectedReason ? { event: stored, rejectedReason } : { event: stored });
      accepted.set(event.eventId, { ...stored, roomId, outlier: true, rejectedReason });
    }
    if (writes.length > 0) await this.deps.writer.persistOutliers(roomId, writes);
  }

  /**
   * The event's auth events (plus, in v12, the create event its room ID
   * names), from `extra` or storage; undefined when any is missing.
   */
  private async loadAuthEvents(
    version: RoomVersion,
    checked: CheckedPdu,
    extra: ReadonlyMap<string, HeldEvent> = new Map(),
  ): Promise<{ listed: HeldEvent[]; implied: HeldEvent[] } | undefined> {
    const { pdu } = checked;
    const listedIds = pdu.auth_events;
    const impliedIds = impliedAuthEventIds(pdu, version);
    const ids = [...listedIds, ...impliedIds];
    const found = new Map(
      (await this.deps.store.heldEvents(ids.filter((id) => !extra.has(id)))).map((e) => [
        e.eventId,
        e,
      ]),
    );
    for (const [id, event] of extra) found.set(id, event);
    if (!ids.every((id) => found.has(id))) return undefined;
    return {
      listed: listedIds.map((id) => found.get(id)!),
      implied: impliedIds.map((id) => found.get(id)!),
    };
  }

  /** Rule 2.3 (an auth event was rejected) and the auth rules against the auth events. */
  private refusalByAuthEvents(
    version: RoomVersion,
    verified: Verified,
    authEvents: { listed: HeldEvent[]; implied: HeldEvent[] },
  ): string | undefined {
    const all = [...authEvents.implied, ...authEvents.listed];
    const rejected = all.find((e) => e.rejectedReason !== undefined);
    if (rejected) return `Auth event ${rejected.eventId} was rejected`;
    const result = authorizeEvent(verified.checked.pdu, authStateOf(all), version, {
      authEvents: authEvents.listed,
      verifier: verifierFor(verified.signers),
    });
    return refusal(result);
  }

  /** Steps 4–6 for a timeline event, then storage; a rejection is stored and reported. */
  private async authorizeAndStore(
    origin: string,
    version: RoomVersion,
    verified: Verified,
    stateBefore: StateIds,
  ): Promise<PduResult> {
    const { roomId, eventId, pdu } = verified.checked;
    const authEvents = await this.authEventsFetchingMissing(origin, version, verified.checked);
    if (!authEvents) return { error: 'The auth events of this event could not be found' };
    const verifier = verifierFor(verified.signers);
    const rejectedReason =
      this.refusalByAuthEvents(version, verified, authEvents) ??
      (await this.refusalByState(version, pdu, stateBefore, verifier));
    const softFailed =
      rejectedReason === undefined && (await this.softFails(roomId, version, pdu, verifier));
    if (softFailed) this.deps.logger.info({ origin, eventId }, 'federation: event soft-failed');
    await this.deps.writer.persistReceived(roomId, [
      {
        event: { eventId, pdu },
        stateBefore,
        ...(softFailed ? { softFailed } : {}),
        ...(rejectedReason === undefined ? {} : { rejectedReason }),
      },
    ]);
    return rejectedReason === undefined ? {} : { error: rejectedReason };
  }

  /** The auth events, asking the origin's `/event_auth` for the chain when some are unknown. */
  private async authEventsFetchingMissing(
    origin: string,
    version: RoomVersion,
    checked: CheckedPdu,
  ): Promise<{ listed: HeldEvent[]; implied: HeldEvent[] } | undefined> {
    const known = await this.loadAuthEvents(version, checked);
    if (known) return known;
    const { roomId, eventId } = checked;
    const chain = await this.deps.remote
      .eventAuth(origin, roomId, eventId)
      .catch((err: unknown) => {
        this.deps.logger.warn({ err, origin, eventId }, 'federation: event_auth failed');
        return [];
      });
    const others = chain.filter((json) => bestEffortEventId(json, version) !== eventId);
    await this.authorizeAndStoreOutliers(origin, version, roomId, others);
    return this.loadAuthEvents(version, checked);
  }

  /** Step 5: the auth rules against the state before the event (only the pairs they read). */
  private async refusalByState(
    version: RoomVersion,
    pdu: Pdu,
    stateBefore: StateIds,
    verifier: SignatureVerifier,
  ): Promise<string | undefined> {
    const state = await this.authStateFrom(stateBefore, pdu, version);
    return refusal(authorizeEvent(pdu, state, version, { verifier }));
  }

  /**
   * Step 6: the auth rules against the current state, unless the event builds
   * on exactly our forward extremities (then the state before it is current).
   */
  private async softFails(
    roomId: string,
    version: RoomVersion,
    pdu: Pdu,
    verifier: SignatureVerifier,
  ): Promise<boolean> {
    const extremities = (await this.deps.store.forwardExtremities(roomId)).map((e) => e.eventId);
    if (sameSet(extremities, pdu.prev_events)) return false;
    const current = await this.deps.store.currentStateIdsFor(roomId, authPairs(pdu, version));
    const state = await this.authStateFrom(current, pdu, version);
    return !authorizeEvent(pdu, state, version, { verifier }).allowed;
  }

  private async authStateFrom(stateIds: StateIds, pdu: Pdu, version: RoomVersion) {
    const ids = authPairs(pdu, version).flatMap((pair) => {
      const id = stateIds.get(stateMapKey(pair.type, pair.stateKey));
      return id === undefined ? [] : [id];
    });
    return authStateOf(await this.deps.store.heldEvents(ids));
  }
}

/** The (type, state_key) pairs the auth rules read for the event, the create event always among them. */
function authPairs(pdu: Pdu, version: RoomVersion): StatePair[] {
  const pairs = authEventTypesFor(pdu, version);
  return pairs.some((p) => p.type === CREATE_PAIR.type) ? pairs : [CREATE_PAIR, ...pairs];
}

/** v12: the create event, which the room ID names instead of auth_events. */
function impliedAuthEventIds(pdu: Pdu, version: RoomVersion): string[] {
  if (!version.roomIdFromCreateEvent || pdu.type === 'm.room.create' || !pdu.room_id) return [];
  return [`$${pdu.room_id.slice(1)}`];
}

/** Signatures were checked before the auth rules ran: the verifier answers from that. */
function verifierFor(signers: ReadonlySet<string>): SignatureVerifier {
  return {
    isSignedBy: (_event, serverName) => signers.has(serverName),
    isSignedByAnyKey: (signed, publicKeys) => signedByAnyKey(signed, publicKeys),
  };
}

function refusal(result: AuthResult): string | undefined {
  return result.allowed ? undefined : describeRefusal(result);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((id) => right.has(id));
}

function roomIdField(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const roomId = (json as Record<string, unknown>).room_id;
  return typeof roomId === 'string' ? roomId : undefined;
}

/** The event ID of a PDU that failed its format check, when it can be computed at all. */
function bestEffortEventId(json: unknown, version: RoomVersion): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  try {
    return eventIdFor(json as Pdu, version);
  } catch {
    return undefined;
  }
}
