/**
 * Building, authorising and storing room events. Every event a local user sends
 * goes through `send`: it is built on the room's forward extremities and current
 * state, hashed, signed, given its reference-hash ID, checked against the
 * authorization rules, and only then stored. Event creation is serialised per
 * room (KeyedLock); different rooms proceed in parallel.
 */
import type { Config } from '../config/config.js';
import type { SigningKey } from '../crypto/server-keys.js';
import {
  authEventTypesFor,
  authStateOf,
  authorizeEvent,
  canRedact,
  describeRefusal,
  stateMapKey,
} from '../events/auth-rules.js';
import { eventIdFromReferenceHash } from '../events/hashing.js';
import type { JsonObject, Pdu, StoredEvent } from '../events/pdu.js';
import { indexedRelationOf } from '../events/relations.js';
import { sealEvent, verifyEventSignature } from '../events/signing.js';
import type { SignatureVerifier } from '../events/auth/verifier.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { ServerEventBus } from '../domain/server-events.js';
import type { UserReader } from '../storage/readers.js';
import type {
  EventRecord,
  NewRoomEvent,
  RoomRecord,
  RoomStore,
  StateIds,
} from '../storage/storage.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { PersistQueue } from './persist-queue.js';
import { RoomHeads, type RoomHead } from './room-heads.js';
import { roomVersion, type RoomVersion } from '../events/room-versions.js';
import { ReceivedPlanner, type OutlierEvent, type ReceivedEvent } from './received-events.js';

export type { OutlierEvent, ReceivedEvent };

/** The spec's limit on a PDU, measured as canonical JSON. */
export const MAX_PDU_BYTES = 65_536;
/**
 * A local event names at most this many forward extremities as prev_events
 * (the deepest), as Synapse does; the others stay extremities for the next.
 */
export const MAX_PREV_EVENTS = 10;

export interface EventDraft {
  type: string;
  stateKey?: string;
  content: JsonObject;
  /** For m.room.redaction: the event redacted (placed where the room version wants it). */
  redacts?: string;
  /** An application service's `?ts=` (timestamp massaging); absent: now. */
  originServerTs?: number;
}

export interface TransactionScope {
  userId: string;
  deviceId: string;
  endpoint: string;
  txnId: string;
}

/** The rooms (events, state, transactions), and the users whose guest flag guest access reads. */
export interface RoomServiceStorage {
  rooms: RoomStore;
  users: UserReader;
}

export class RoomService {
  private readonly lock = new KeyedLock();
  private readonly heads: RoomHeads;
  private readonly queue: PersistQueue;
  private readonly pendingTransactions = new Map<string, Promise<EventRecord>>();

  constructor(
    private readonly config: Config,
    private readonly storage: RoomServiceStorage,
    private readonly signingKey: SigningKey,
    /** Hears of every batch of events once it has committed (`eventsCommitted`). */
    bus: ServerEventBus,
  ) {
    this.heads = new RoomHeads(storage);
    // A failed batch leaves heads pointing at events never stored: forget them.
    this.queue = new PersistQueue(
      storage,
      (roomIds) => {
        for (const roomId of roomIds) this.heads.drop(roomId);
      },
      (records) => bus.emit('eventsCommitted', records),
    );
  }

  /**
   * Sends an event into an existing room as `sender`; a repeated transaction
   * returns the first event. The room's lock is held while the event is built,
   * not while it commits, so the next event of the room is built meanwhile and
   * both share a disk sync (PersistQueue). The answer waits for the commit.
   */
  async send(
    roomId: string,
    sender: string,
    draft: EventDraft,
    transaction?: TransactionScope,
  ): Promise<EventRecord> {
    if (draft.type === 'm.room.guest_access') {
      // Rare, and it may be followed by guests' leaves: built and stored in one go.
      return this.once(roomId, transaction, async (room) => {
        const event = await this.buildAndStore(room, sender, draft, transaction);
        if (closesToGuests(event)) await this.removeGuests(room);
        return event;
      });
    }
    const key = transaction && transactionKey(transaction);
    const inFlight = key && this.pendingTransactions.get(key);
    if (inFlight) return inFlight;
    const { committed } = await this.lock.run(roomId, async () => {
      const again = key && this.pendingTransactions.get(key);
      if (again) return { committed: again };
      const earlier = transaction && (await this.earlierTransactionEvent(transaction));
      if (earlier) return { committed: Promise.resolve(earlier) };
      const room = await this.requireRoom(roomId);
      const built = await this.buildAndEnqueue(room, sender, draft, transaction);
      if (key) this.trackTransaction(key, built.committed);
      return built;
    });
    return committed;
  }

  /**
   * A member event that keeps its sender joined (a profile change spreading to
   * the user's rooms): sent only if the sender is joined at the room's head,
   * decided under the room's lock. A leave queued meanwhile (a deactivation's)
   * thus always wins; a join built from an older read would rejoin the room.
   * Undefined when not sent.
   */
  async sendWhileJoined(
    roomId: string,
    sender: string,
    draft: EventDraft,
  ): Promise<EventRecord | undefined> {
    const built = await this.lock.run(roomId, async () => {
      const room = await this.requireRoom(roomId);
      const head = await this.heads.get(roomId);
      if (!head) return undefined;
      const ids = await this.heads.stateIds(head, [{ type: 'm.room.member', stateKey: sender }]);
      const [member] = await this.heads.eventsById([...ids.values()]);
      if (member?.pdu.content.membership !== 'join') return undefined;
      return this.buildAndEnqueue(room, sender, draft);
    });
    return built?.committed;
  }

  /**
   * Runs `task` under the room's lock, unless the client transaction already
   * produced an event: then that event is the answer (idempotent retries).
   */
  private once(
    roomId: string,
    transaction: TransactionScope | undefined,
    task: (room: RoomRecord) => Promise<EventRecord>,
  ): Promise<EventRecord> {
    return this.lock.run(roomId, async () => {
      const earlier = transaction && (await this.earlierTransactionEvent(transaction));
      return earlier || task(await this.requireRoom(roomId));
    });
  }

  /** Retries of a transaction whose event is still committing get the same answer. */
  private trackTransaction(key: string, committed: Promise<EventRecord>): void {
    this.pendingTransactions.set(key, committed);
    const forget = () => this.pendingTransactions.delete(key);
    committed.then(forget, forget);
  }

  /** Runs `task` holding the room's lock (room creation sends several events in a row). */
  withRoomLock<T>(roomId: string, task: () => Promise<T>): Promise<T> {
    return this.lock.run(roomId, task);
  }

  /**
   * Runs a change of the room's extremities made outside the event path (the
   * Admin API's pruning) under the room's lock, then forgets the room's head so
   * the next event builds on what storage now holds.
   */
  async rewriteExtremities<T>(roomId: string, change: () => Promise<T>): Promise<T> {
    return this.lock.run(roomId, async () => {
      try {
        return await change();
      } finally {
        this.heads.drop(roomId);
      }
    });
  }

  // --- federated events ---

  /**
   * Stores events received over federation, in order, under the room's lock
   * (local events never build on a stale head). Each moves the extremities
   * and current state (received-events.ts: resolution when the room forks),
   * goes through the same persist queue as local events, and is told to the
   * `eventsCommitted` listeners as they are; soft-failed and rejected events
   * are stored off the stream, so no listener, timeline or sync sees them.
   * Events already held (but as outliers) are skipped: their records come
   * back as stored. Resolves after the commit.
   */
  async persistReceived(roomId: string, events: readonly ReceivedEvent[]): Promise<EventRecord[]> {
    return this.lock.run(roomId, async () => {
      // Storage holds every earlier event of the room: their states are read from it.
      await this.queue.idle(roomId);
      const head = await this.heads.get(roomId);
      if (!head) throw errors.notFound('Unknown room');
      const held = new Map(
        (await this.storage.rooms.heldEvents(events.map((r) => r.event.eventId)))
          .filter((e) => !e.outlier)
          .map((e) => [e.eventId, e]),
      );
      const planner = new ReceivedPlanner(this.storage.rooms, head);
      const inCall = new Map<string, Promise<EventRecord>>();
      const committed: Promise<EventRecord>[] = [];
      for (const received of events) {
        const { eventId } = received.event;
        const known = held.get(eventId);
        const again = known ? Promise.resolve<EventRecord>(known) : inCall.get(eventId);
        if (again) {
          committed.push(again);
          continue;
        }
        const plan = await planner.plan(received);
        const stored = this.queue.enqueue(plan.stored);
        inCall.set(eventId, stored);
        committed.push(stored);
        if (plan.extremities) {
          this.heads.received(head, received.event, plan.extremities, plan.currentState);
        }
      }
      // Held until they commit: the head's entries not looked up yet are read from storage.
      return Promise.all(committed);
    });
  }

  /**
   * Stores events known without their state (auth chains, state fetched to
   * fill a gap): by ID only, off the stream; those already held are left as
   * they are. They touch no head, so no lock is taken.
   */
  async persistOutliers(roomId: string, events: readonly OutlierEvent[]): Promise<void> {
    await Promise.all(
      events.map(({ event, rejectedReason }) =>
        this.queue.enqueue({
          eventId: event.eventId,
          roomId,
          pdu: event.pdu,
          outlier: true,
          ...(rejectedReason === undefined ? {} : { rejectedReason }),
        }),
      ),
    );
  }

  /**
   * The record of a room joined over federation, before its first event (the
   * join, with the state send_join gave as its state before) is persisted
   * with persistReceived. Nothing if the room is already known.
   */
  async createRemoteRoom(room: RoomRecord): Promise<void> {
    await this.lock.run(room.roomId, async () => {
      if (await this.storage.rooms.getRoom(room.roomId)) return;
      await this.storage.rooms.createRoom(room, Date.now());
      this.heads.drop(room.roomId);
    });
  }

  /** An admin purge deleted the room's rows: its head goes (the next event reloads it, or finds no room). */
  forgetHead(roomId: string): void {
    this.heads.drop(roomId);
  }

  async requireRoom(roomId: string): Promise<RoomRecord> {
    const head = await this.heads.get(roomId);
    if (!head) throw errors.notFound('Unknown room');
    return head.room;
  }

  /** Builds on the current extremities and state and waits for the commit; the caller holds the room's lock. */
  async buildAndStore(
    room: RoomRecord,
    sender: string,
    draft: EventDraft,
    transaction?: TransactionScope,
  ): Promise<EventRecord> {
    return (await this.buildAndEnqueue(room, sender, draft, transaction)).committed;
  }

  /**
   * A new room: its create event, then the drafts, each built on the one
   * before and authorised against the state so far. All are built before
   * anything is stored, so a refused draft leaves no half-made room behind;
   * then they share commits. The caller holds the room's lock.
   */
  async storeNewRoom(
    room: RoomRecord,
    create: StoredEvent,
    drafts: EventDraft[],
  ): Promise<EventRecord[]> {
    const head = this.heads.seed(room, create);
    const built: StoredEvent[] = [];
    try {
      for (const draft of drafts) built.push(await this.build(head, room.creator, draft));
      await this.storage.rooms.createRoom(room, Date.now());
      await this.storage.rooms.persistEvent({ ...create, roomId: room.roomId });
    } catch (err) {
      this.heads.drop(room.roomId);
      throw err;
    }
    return Promise.all(built.map((event) => this.queue.enqueue(newRoomEvent(event, room.roomId))));
  }

  /**
   * Builds, authorises and hands the event to the persist queue; the room's
   * head moves on at once, so the next event can be built before this commits.
   */
  private async buildAndEnqueue(
    room: RoomRecord,
    sender: string,
    draft: EventDraft,
    transaction?: TransactionScope,
  ): Promise<{ committed: Promise<EventRecord> }> {
    const head = await this.heads.get(room.roomId);
    if (!head) throw errors.notFound('Unknown room');
    const event = newRoomEvent(await this.build(head, sender, draft), room.roomId, transaction);
    return { committed: this.queue.enqueue(event) };
  }

  /** The event on the head's extremities and state, sealed and authorised; the head moves on to it. */
  private async build(head: RoomHead, sender: string, draft: EventDraft): Promise<StoredEvent> {
    const { room, version } = head;
    // The deepest extremities (a room forked by federation may have many).
    const extremities = [...head.extremities]
      .sort((a, b) => b.depth - a.depth)
      .slice(0, MAX_PREV_EVENTS);
    const unsigned: Pdu = {
      type: draft.type,
      room_id: room.roomId,
      sender,
      origin_server_ts: draft.originServerTs ?? Date.now(),
      ...contentAndRedacts(draft, version),
      ...(draft.stateKey === undefined ? {} : { state_key: draft.stateKey }),
      prev_events: extremities.map((e) => e.eventId),
      auth_events: [],
      depth: Math.max(0, ...extremities.map((e) => e.depth)) + 1,
      hashes: { sha256: '' },
      signatures: {},
    };
    // Only the state entries the auth event selection names are read, not the whole room state.
    const pairs = authEventTypesFor(unsigned, version);
    const stateIds = await this.heads.stateIds(head, pairs);
    unsigned.auth_events = selectAuthEvents(unsigned, stateIds, version);
    const event = this.seal(unsigned, version);
    await this.authorize(event.pdu, version);
    this.heads.applied(head, event);
    return event;
  }

  /** Hashes and signs an event and checks its size. */
  finish(pdu: Pdu, version: RoomVersion): Pdu {
    return this.seal(pdu, version).pdu;
  }

  /** `finish`, plus the event's ID, from the same encodings (see `sealEvent`). */
  private seal(pdu: Pdu, version: RoomVersion): { pdu: Pdu; eventId: string } {
    const sealed = sealEvent(pdu, this.config.server_name, this.signingKey, version);
    if (sealed.byteLength > MAX_PDU_BYTES) {
      throw errors.tooLarge(`Event is larger than ${MAX_PDU_BYTES} bytes`);
    }
    return { pdu: sealed.pdu, eventId: eventIdFromReferenceHash(sealed.referenceHash, version) };
  }

  /** Checks the event against its auth events (for local events: the current state); 403 names the rule. */
  async authorize(pdu: Pdu, version: RoomVersion): Promise<void> {
    const authEvents = await this.heads.eventsById(pdu.auth_events);
    // v12 leaves the create event out of auth_events: the room ID names it.
    const implied =
      version.roomIdFromCreateEvent && pdu.type !== 'm.room.create' && pdu.room_id
        ? await this.heads.eventsById([createEventIdOf(pdu.room_id)])
        : [];
    const state = authStateOf([...implied, ...authEvents]);
    const verifier = this.ownSignatureVerifier(version);
    const result = authorizeEvent(pdu, state, version, { authEvents, verifier });
    if (!result.allowed) {
      throw new MatrixError(403, 'M_FORBIDDEN', describeRefusal(result) ?? 'Not allowed');
    }
  }

  /**
   * Without federation the only signatures to check are this server's own: a
   * restricted join names a local authoriser (rule 4.2.1). Third-party invite
   * signatures need an identity server's keys, which Weft does not fetch.
   */
  private ownSignatureVerifier(version: RoomVersion): SignatureVerifier {
    const { server_name: serverName } = this.config;
    const { keyId, publicKeyBase64 } = this.signingKey;
    return {
      isSignedBy: (event, server) =>
        server === serverName &&
        verifyEventSignature(event, serverName, keyId, publicKeyBase64, version),
      isSignedByAnyKey: () => false,
    };
  }

  /**
   * Redacts an event: one's own with the power to send m.room.redaction (the
   * auth rules check that), another's only with the `redact` level as well.
   * A suspended sender (`suspended`) may redact only their own events (the
   * spec's "Account suspension").
   */
  async redact(
    roomId: string,
    sender: string,
    targetEventId: string,
    content: JsonObject,
    transaction?: TransactionScope,
    suspended = false,
  ): Promise<EventRecord> {
    return this.once(roomId, transaction, async (room) => {
      const version = roomVersion(room.version);
      const target = await this.storage.rooms.getEvent(targetEventId);
      if (!target || target.roomId !== roomId) throw errors.notFound('Unknown event');
      if (suspended && target.pdu.sender !== sender) {
        throw new MatrixError(
          403,
          'M_USER_SUSPENDED',
          'A suspended account may redact only its own events',
        );
      }
      // The room's head, not storage: a power level change may still be committing.
      const head = await this.heads.get(roomId);
      if (!head) throw errors.notFound('Unknown room');
      const stateIds = await this.heads.stateIds(head, [
        { type: 'm.room.create', stateKey: '' },
        { type: 'm.room.power_levels', stateKey: '' },
      ]);
      const authState = authStateOf(await this.heads.eventsById([...stateIds.values()]));
      const allowed = canRedact(sender, target.pdu.sender, authState, version);
      if (!allowed.allowed) throw new MatrixError(403, 'M_FORBIDDEN', describeRefusal(allowed)!);
      const draft = { type: 'm.room.redaction', content, redacts: targetEventId };
      return this.buildAndStore(room, sender, draft, transaction);
    });
  }

  /**
   * Guest access module: when a room stops allowing guests, its joined guests
   * are made to leave (each leaves by itself, which the auth rules always allow).
   */
  private async removeGuests(room: RoomRecord): Promise<void> {
    const stateIds = await this.storage.rooms.currentStateIds(room.roomId);
    const members = (await this.storage.rooms.getEvents([...stateIds.values()])).filter(
      (e) => e.pdu.type === 'm.room.member' && e.pdu.content.membership === 'join',
    );
    for (const member of members) {
      const userId = member.pdu.state_key!;
      if (!(await this.storage.users.getUser(userId))?.isGuest) continue;
      const leave = { type: 'm.room.member', stateKey: userId, content: { membership: 'leave' } };
      await this.buildAndStore(room, userId, leave);
    }
  }

  private async earlierTransactionEvent(txn: TransactionScope): Promise<EventRecord | undefined> {
    const eventId = await this.storage.rooms.transactionEvent(
      txn.userId,
      txn.deviceId,
      txn.endpoint,
      txn.txnId,
    );
    return eventId === undefined ? undefined : this.storage.rooms.getEvent(eventId);
  }
}

/** The event IDs of the current state entries the spec's auth event selection names. */
export function selectAuthEvents(pdu: Pdu, stateIds: StateIds, version: RoomVersion): string[] {
  return authEventTypesFor(pdu, version).flatMap((pair) => {
    const eventId = stateIds.get(stateMapKey(pair.type, pair.stateKey));
    return eventId === undefined ? [] : [eventId];
  });
}

/** v12: the create event's ID is the room ID with the `$` sigil. */
function createEventIdOf(roomId: string): string {
  return `$${roomId.slice(1)}`;
}

/**
 * The content and top-level fields of an event: v11+ put `redacts` of
 * m.room.redaction in the content, earlier versions at the top level.
 */
function contentAndRedacts(
  draft: EventDraft,
  version: RoomVersion,
): Partial<Pdu> & { content: JsonObject } {
  if (draft.redacts === undefined) return { content: draft.content };
  const content = { ...draft.content };
  delete content.redacts;
  if (version.redactsInContent) return { content: { ...content, redacts: draft.redacts } };
  return { content, redacts: draft.redacts };
}

function closesToGuests(event: EventRecord): boolean {
  return (
    event.pdu.type === 'm.room.guest_access' &&
    event.pdu.state_key === '' &&
    event.pdu.content.guest_access !== 'can_join'
  );
}

function transactionKey(txn: TransactionScope): string {
  return JSON.stringify([txn.userId, txn.deviceId, txn.endpoint, txn.txnId]);
}

/** A built event as storage takes it: with its relation derived here, by the rules. */
function newRoomEvent(
  event: StoredEvent,
  roomId: string,
  transaction?: TransactionScope,
): NewRoomEvent {
  const stored: NewRoomEvent = { eventId: event.eventId, roomId, pdu: event.pdu };
  const relation = indexedRelationOf(event.pdu.content);
  if (relation) stored.relation = relation;
  if (transaction) stored.transaction = transaction;
  return stored;
}
