/**
 * Transactions to application services: one worker per registration with a
 * URL, each delivering the room events its service is interested in, in stream
 * order, at most MAX_EVENTS_PER_TRANSACTION per transaction, one transaction in
 * flight at a time.
 *
 * Crash safety: before a transaction is sent, its ID, its exact body and the
 * stream position it completes are stored (AppServiceTransactionStore.begin).
 * It is sent again, unchanged, until the service answers 2xx (backoff from 1 s
 * up to 5 min); then, in one write, the position moves and the transaction is
 * cleared. At start each worker first sends the stored transaction if there is
 * one, then reads the event store after its position: events committed before
 * a crash are delivered after the restart. Positions cover skipped events too
 * (of no interest), stored at most every SKIP_SAVE_INTERVAL_MS.
 *
 * Nothing on the write path waits for a service: `eventsCommitted` only
 * appends to each worker's queue. A worker that falls far behind (a dead
 * service) drops its queue and reads the event store again when it recovers,
 * so its memory stays bounded; the other workers do not notice.
 *
 * Ephemeral events and to-device messages (appservice-pusher-ephemeral.ts) are
 * best effort: kept in memory until the next transaction, not persisted; a
 * restart loses what was not yet sent (as typing notices would be stale anyway).
 */
import type { Logger } from 'pino';
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { AppServiceDeliveryState } from '../domain/appservice-transactions.js';
import type { EventRecord } from '../events/records.js';
import { toClientEvent } from '../events/client-format.js';
import type { Storage } from '../storage/storage.js';
import { LruCache } from '../util/lru-cache.js';
import { encryptionSummary, type EncryptionSummary } from './appservice-encryption.js';
import { AppServiceRequestError, type AppServiceHttp } from './appservice-http.js';
import {
  applyToRoomInterest,
  canonicalAliases,
  interestedInEvent,
  interestedInRoom,
  interestedInUser,
  type InterestEvent,
  type RoomInterest,
} from './interest-rules.js';
import {
  acknowledges,
  hasContent,
  MAX_EPHEMERAL_PER_TRANSACTION,
  MAX_EVENTS_PER_TRANSACTION,
  MAX_TO_DEVICE_PER_TRANSACTION,
  retryDelayMs,
  transactionBody,
  transactionPath,
  type TransactionContent,
} from './transaction-rules.js';

/** Events read from the store per step when catching up. */
const STORE_PAGE = 500;
/** Queued events beyond which a worker drops its queue and reads the store instead. */
const MAX_QUEUED_EVENTS = 10_000;
/** Ephemeral events and to-device messages kept for a service between transactions. */
const MAX_QUEUED_EPHEMERAL = 1_000;
/** Rooms whose interest is kept per service. */
const MAX_CACHED_ROOMS = 10_000;
const SKIP_SAVE_INTERVAL_MS = 2_000;

export interface PusherDeps {
  storage: Storage;
  serverName: string;
  http: AppServiceHttp;
  logger: Logger;
  /** Asks the services about an unknown local user an event names (AppServiceQueries.ensureKnown). */
  ensureUserKnown?: (userId: string) => Promise<void>;
  now?: () => number;
}

type Json = Record<string, unknown>;

export class AppServicePushers {
  readonly workers: ServiceWorker[];

  constructor(registrations: readonly AppServiceRegistration[], deps: PusherDeps) {
    this.workers = registrations
      .filter((registration) => registration.url !== null)
      .map((registration) => new ServiceWorker(registration, deps));
  }

  start(): void {
    for (const worker of this.workers) worker.start();
  }

  /** `eventsCommitted`: a queue append per worker, nothing awaited. */
  eventsCommitted(records: readonly EventRecord[]): void {
    for (const worker of this.workers) worker.enqueue(records);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }
}

/** The worker of one service. */
export class ServiceWorker {
  private readonly storage: Storage;
  private readonly rooms = new LruCache<string, Promise<RoomInterest>>(MAX_CACHED_ROOMS);
  private queue: EventRecord[] = [];
  /** Read the store up to here before taking from the queue (catching up, or after dropping it). */
  private storeUntil = 0;
  /** The newest event ever queued: where the store is read up to after a failure. */
  private highestQueued = 0;
  private state: AppServiceDeliveryState = { deliveredUpTo: 0, lastTxnNumber: 0 };
  private savedPosition = 0;
  private lastSkipSave = 0;
  private ephemeral: Json[] = [];
  private toDevice: Json[] = [];
  /** MSC3202: users whose device lists changed since the last transaction. */
  private readonly changedDeviceLists = new Set<string>();
  private wake?: () => void;
  /** A kick while the worker was busy: its next sleep returns at once (no wake-up lost). */
  private kicked = false;
  private running?: Promise<void>;
  private closed = false;
  /** Cuts a request in progress short when the server stops. */
  private readonly stopping = new AbortController();
  private failures = 0;
  /** Transactions acknowledged since start (for tests and the bench). */
  delivered = 0;

  constructor(
    readonly registration: AppServiceRegistration,
    private readonly deps: PusherDeps,
  ) {
    this.storage = deps.storage;
  }

  start(): void {
    this.running = this.run().catch((err: unknown) => {
      this.deps.logger.error(
        { err, appservice: this.registration.id },
        'appservice: worker stopped',
      );
    });
  }

  enqueue(records: readonly EventRecord[]): void {
    if (this.closed) return;
    this.queue.push(...records);
    const last = records[records.length - 1];
    if (last) this.highestQueued = Math.max(this.highestQueued, last.streamOrdering);
    if (this.queue.length > MAX_QUEUED_EVENTS) {
      // Far behind: forget the queue, read the store up to the newest event instead.
      this.storeUntil = Math.max(
        this.storeUntil,
        this.queue[this.queue.length - 1]!.streamOrdering,
      );
      this.queue = [];
    }
    this.kick();
  }

  /** An ephemeral event (typing, receipt, presence) the service is interested in. */
  addEphemeral(event: Json): void {
    if (this.registration.ephemeral === 'none' || this.closed) return;
    pushBounded(this.ephemeral, event);
    this.kick();
  }

  /** MSC3202: a user of interest to the service changed their devices or cross-signing keys. */
  addDeviceListChange(userId: string): void {
    if (!this.registration.msc3202 || this.closed) return;
    if (this.changedDeviceLists.size < MAX_QUEUED_EPHEMERAL) this.changedDeviceLists.add(userId);
    this.kick();
  }

  /** A to-device message for one of the service's users' devices (MSC4203). */
  addToDevice(message: Json): void {
    if (this.registration.ephemeral === 'none' || this.closed) return;
    pushBounded(this.toDevice, message);
    this.kick();
  }

  /** Whether the service wants to hear of this user (its own, or namespaced). */
  interestedInUser(userId: string): boolean {
    return interestedInUser(this.registration, userId, this.deps.serverName);
  }

  /** Whether the room interests the service now (for typing and receipts). */
  async interestedInRoom(roomId: string): Promise<boolean> {
    return interestedInRoom(this.registration, roomId, await this.roomInterest(roomId));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    this.kick();
    await this.running;
  }

  private kick(): void {
    const wake = this.wake;
    this.wake = undefined;
    if (wake) wake();
    else this.kicked = true;
  }

  private sleep(ms?: number): Promise<void> {
    if (this.kicked || this.closed) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    let loaded = false;
    while (!this.closed) {
      try {
        if (!loaded) loaded = await this.load();
        else await this.step();
      } catch (err) {
        // Storage failed: nothing is lost (the stored state stays behind); read the store again.
        this.deps.logger.error(
          { err, appservice: this.registration.id },
          'appservice: worker step',
        );
        this.storeUntil = Math.max(this.storeUntil, this.highestQueued);
        this.failures++;
        await this.sleepUnlessClosed(retryDelayMs(this.failures));
      }
    }
    if (loaded) await this.saveSkipped(true);
  }

  private async step(): Promise<void> {
    if (this.state.inFlight) return this.sendInFlight();
    const built = await this.buildNext();
    if (!built) await this.sleep();
  }

  private async load(): Promise<true> {
    const id = this.registration.id;
    const store = this.storage.appServiceTransactions;
    // A new service starts at the present: it is not sent the server's whole history.
    await store.initialise(id, await this.storage.rooms.maxStreamOrdering());
    this.state = (await store.state(id))!;
    this.savedPosition = this.state.deliveredUpTo;
    this.storeUntil = await this.storage.rooms.maxStreamOrdering();
    return true;
  }

  /** Builds and stores the next transaction; false when there is nothing to send. */
  private async buildNext(): Promise<boolean> {
    const { events, upTo } = await this.nextEvents();
    await this.ensureUsersKnown(events);
    const toDevice = this.toDevice.splice(0, MAX_TO_DEVICE_PER_TRANSACTION);
    const content: TransactionContent = {
      events: events.map((record) => clientEventFor(record, this.now())),
      ephemeral: this.ephemeral.splice(0, MAX_EPHEMERAL_PER_TRANSACTION),
      toDevice,
      ...(await this.encryptionSummary(events, toDevice)),
    };
    if (!hasContent(content)) {
      if (upTo <= this.state.deliveredUpTo) return false;
      this.state.deliveredUpTo = upTo;
      await this.saveSkipped(false);
      return true;
    }
    const txnNumber = this.state.lastTxnNumber + 1;
    const inFlight = {
      txnId: String(txnNumber),
      body: JSON.stringify(transactionBody(this.registration, content)),
      upTo: Math.max(upTo, this.state.deliveredUpTo),
    };
    // Stored before it is sent: a crash from here on sends this same transaction again.
    await this.storage.appServiceTransactions.begin(this.registration.id, txnNumber, inFlight);
    this.state.lastTxnNumber = txnNumber;
    this.state.inFlight = inFlight;
    return true;
  }

  /** MSC3202's fields for a registration that asks for them (appservice-encryption.ts). */
  private async encryptionSummary(
    events: readonly EventRecord[],
    toDevice: readonly Json[],
  ): Promise<EncryptionSummary> {
    if (!this.registration.msc3202) return {};
    const changedDeviceLists = [...this.changedDeviceLists];
    this.changedDeviceLists.clear();
    return encryptionSummary(this.storage, this.registration, this.deps.serverName, {
      events,
      toDevice,
      changedDeviceLists,
    });
  }

  /** Senders and member events' targets the server does not know are asked of the services first. */
  private async ensureUsersKnown(events: readonly EventRecord[]): Promise<void> {
    const ensure = this.deps.ensureUserKnown;
    if (!ensure) return;
    const users = new Set<string>();
    for (const { pdu } of events) {
      users.add(pdu.sender);
      if (pdu.type === 'm.room.member' && pdu.state_key !== undefined) users.add(pdu.state_key);
    }
    for (const userId of users) await ensure(userId);
  }

  /** The next interesting events (at most a transaction's worth) and the position they reach. */
  private async nextEvents(): Promise<{ events: EventRecord[]; upTo: number }> {
    const interesting: EventRecord[] = [];
    let upTo = this.state.deliveredUpTo;
    while (interesting.length < MAX_EVENTS_PER_TRANSACTION && !this.closed) {
      const candidates = await this.candidatesAfter(upTo);
      if (candidates.length === 0) break;
      for (const record of candidates) {
        if (await this.decide(record)) interesting.push(record);
        upTo = record.streamOrdering;
        if (interesting.length >= MAX_EVENTS_PER_TRANSACTION) break;
      }
    }
    this.queue = this.queue.filter((record) => record.streamOrdering > upTo);
    return { events: interesting, upTo };
  }

  /** Events after the position: from the store while catching up, else from the queue. */
  private async candidatesAfter(position: number): Promise<EventRecord[]> {
    if (position < this.storeUntil) {
      const ids = await this.storage.appServiceTransactions.eventIdsAfter(
        position,
        this.storeUntil,
        STORE_PAGE,
      );
      if (ids.length === 0) {
        this.storeUntil = position;
        return this.candidatesAfter(position);
      }
      const records = await this.storage.rooms.getEvents(ids);
      return records.sort((a, b) => a.streamOrdering - b.streamOrdering);
    }
    return this.queue.filter((record) => record.streamOrdering > position);
  }

  /** Whether the event is for the service, the room's knowledge rolled forward over it. */
  private async decide(record: EventRecord): Promise<boolean> {
    const event = interestEventOf(record);
    const room = await this.roomInterest(record.roomId);
    const interested = interestedInEvent(this.registration, event, room, this.deps.serverName);
    applyToRoomInterest(this.registration, room, event, this.deps.serverName);
    return interested;
  }

  /**
   * The room as the service sees it, loaded once from the current state (its
   * service users joined, its aliases) and rolled forward from its events.
   * Loaded while catching up, it may count a user who joined later: the
   * service may then receive a few events before that join (never fewer).
   */
  private roomInterest(roomId: string): Promise<RoomInterest> {
    return this.rooms.getOrSet(roomId, () => {
      const loading = this.loadRoomInterest(roomId);
      loading.catch(() => this.rooms.delete(roomId));
      return loading;
    });
  }

  private async loadRoomInterest(roomId: string): Promise<RoomInterest> {
    const [members, localAliases, canonical] = await Promise.all([
      this.storage.deviceLists.joinedMembers(roomId),
      this.storage.directory.aliasesOfRoom(roomId),
      this.canonicalAliasesOf(roomId),
    ]);
    return {
      joinedUsers: new Set(members.filter((userId) => this.interestedInUser(userId))),
      localAliases: new Set(localAliases),
      canonicalAliases: canonical,
    };
  }

  private async canonicalAliasesOf(roomId: string): Promise<string[]> {
    const ids = await this.storage.rooms.currentStateIdsFor(roomId, [
      { type: 'm.room.canonical_alias', stateKey: '' },
    ]);
    const eventId = [...ids.values()][0];
    const event = eventId ? await this.storage.rooms.getEvent(eventId) : undefined;
    return event ? canonicalAliases(event.pdu.content) : [];
  }

  /** Sends the stored transaction until the service acknowledges it (or the server stops). */
  private async sendInFlight(): Promise<void> {
    const inFlight = this.state.inFlight!;
    const ok = await this.attempt(inFlight.txnId, inFlight.body);
    if (ok) {
      await this.storage.appServiceTransactions.complete(this.registration.id, inFlight.txnId);
      this.state = { ...this.state, deliveredUpTo: inFlight.upTo, inFlight: undefined };
      delete this.state.inFlight;
      this.savedPosition = inFlight.upTo;
      this.failures = 0;
      this.delivered++;
      return;
    }
    this.failures++;
    await this.sleepUnlessClosed(retryDelayMs(this.failures));
  }

  private async sleepUnlessClosed(ms: number): Promise<void> {
    if (this.closed) return;
    // New events must not cut the backoff short: only close() wakes it early.
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await this.sleep(end - Date.now());
  }

  private async attempt(txnId: string, body: string): Promise<boolean> {
    const log = { appservice: this.registration.id, txnId };
    try {
      const response = await this.deps.http.request(this.registration, {
        method: 'PUT',
        path: transactionPath(txnId),
        body,
        signal: this.stopping.signal,
      });
      if (acknowledges(response.status)) return true;
      this.deps.logger.warn({ ...log, status: response.status }, 'appservice: transaction refused');
    } catch (err) {
      const reason = err instanceof AppServiceRequestError ? err.reason : 'error';
      this.deps.logger.warn({ ...log, reason, err }, 'appservice: transaction failed');
    }
    return false;
  }

  /** Stores the position reached over skipped events, at most every few seconds. */
  private async saveSkipped(force: boolean): Promise<void> {
    const position = this.state.deliveredUpTo;
    if (position <= this.savedPosition || this.state.inFlight) return;
    if (!force && this.now() - this.lastSkipSave < SKIP_SAVE_INTERVAL_MS) return;
    this.lastSkipSave = this.now();
    await this.storage.appServiceTransactions.skipTo(this.registration.id, position);
    this.savedPosition = position;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function pushBounded(list: Json[], item: Json): void {
  list.push(item);
  // Best effort: the oldest go first when a service does not keep up.
  if (list.length > MAX_QUEUED_EPHEMERAL) list.splice(0, list.length - MAX_QUEUED_EPHEMERAL);
}

function interestEventOf(record: EventRecord): InterestEvent {
  const { pdu } = record;
  const event: InterestEvent = {
    roomId: record.roomId,
    type: pdu.type,
    sender: pdu.sender,
    content: pdu.content,
  };
  if (pdu.state_key !== undefined) event.stateKey = pdu.state_key;
  return event;
}

/**
 * The event as Synapse serialises it for services (as_client_event): the
 * client format with room_id and unsigned.age, computed once (the body is kept
 * byte for byte for retries). Weft adds no transaction_id (not the service's device).
 */
function clientEventFor(record: EventRecord, now: number): Json {
  return toClientEvent(record, now) as unknown as Json;
}
