/**
 * Sending to other servers: room events, and EDUs (typing, receipts,
 * presence, device list and signing key updates, to-device messages), each
 * to the servers that should hear of it, through one DestinationQueue per
 * server (destination-queue.ts: one transaction in flight, backoff).
 *
 * Crash safety, events: `eventsCommitted` only appends to an in-memory
 * intake; the intake is written to the per-destination queue table
 * (federation_pdu_queue) together with the events stream's "queued up to"
 * mark, in one transaction, before anything is sent. At start the sender
 * reads the event stream after that mark again, so an event committed just
 * before a crash, not yet queued, is queued then. (The alternative, an
 * outbox row written in the events' own transaction, would put federation
 * into the room store's write path and the writer thread; the mark costs
 * nothing there, and re-reading the few events after it is cheap.) A batch
 * that queues nothing (no other server in its rooms) moves the mark at most
 * every MARK_INTERVAL_MS, so a server without federation writes almost
 * nothing; after a crash those few events are read again and, as before,
 * queue nothing.
 *
 * Device list and signing key updates are found the same way, from the
 * deviceLists stream (device_list_changes) after their own mark, and stored
 * as EDU rows (federation_edu_queue) with the mark: an m.device_list_update per
 * changed device, whose `prev_id` names the one queued for that server before
 * (the chain heads of device_list_outbound); to-device messages to
 * remote users are stored as EDU rows before /sendToDevice answers. Typing,
 * receipts and presence are in memory only (as Synapse: stale after a
 * restart anyway).
 *
 * Nothing on a client's request path waits for another server: the intake
 * and the EDUs are queued and the queues run on their own.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  FederationSendingStore,
  NewQueuedEdu,
  QueuedPdu,
} from '../domain/federation-sending.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventRecord } from '../events/records.js';
import { withSignatures } from '../e2ee/key-rules.js';
import type { RemoteToDeviceMessage } from '../e2ee/to-device.js';
import type { DeviceReader, MembershipReader, RoomStateReader } from '../storage/readers.js';
import type {
  DeviceListOutboundHead,
  DeviceListStore,
  E2eeKeyStore,
  ReceiptRecord,
  RoomStore,
} from '../storage/storage.js';
import type { ObservedChange } from '../sync/notifier.js';
import { LruCache } from '../util/lru-cache.js';
import { DestinationQueue } from './destination-queue.js';
import type { FederationSender } from './outbound.js';
import { RoomServers } from './room-servers.js';
import {
  DEFAULT_BACKOFF,
  destinationsOf,
  directToDeviceEdus,
  groupDeviceListChanges,
  isLocal,
  planDeviceListUpdates,
  presenceEdu,
  receiptEdus,
  signingKeyUpdateEdu,
  typingEdu,
  type BackoffSettings,
  type DeviceListPlan,
  type DeviceListUpdate,
  type Edu,
  type UserDeviceListChanges,
} from './sending-rules.js';

/** Events read from the store per step when catching up. */
const STORE_PAGE = 500;
/** A mark over events that queued nothing is stored at most this often. */
const MARK_INTERVAL_MS = 2_000;
/** Users whose last signing keys sent are remembered (a restart sends them once more). */
const SIGNING_KEYS_REMEMBERED = 10_000;

/** What the sender reads and writes. */
export interface FederationSendingStorage {
  federationSending: FederationSendingStore;
  rooms: Pick<RoomStateReader, 'getEvents'> &
    MembershipReader &
    Pick<RoomStore, 'maxStreamOrdering'>;
  deviceLists: Pick<
    DeviceListStore,
    | 'joinedMembers'
    | 'maxPosition'
    | 'changesAfter'
    | 'outboundHeads'
    | 'setOutboundHeads'
    | 'breakOutboundChains'
  >;
  e2eeKeys: Pick<E2eeKeyStore, 'deviceKeys' | 'crossSigningKeys' | 'signaturesOn'>;
  devices: DeviceReader;
}

/** The ephemeral data the sender reads when the notifier tells of a change. */
export interface EphemeralSources {
  typists(roomId: string): string[];
  receiptChanges(after: number, upTo: number): Promise<ReceiptRecord[]>;
  /** The user's presence as clients see it (presence, last_active_ago, ...). */
  presenceOf(userId: string): Promise<Record<string, unknown>>;
}

/** What one page of the deviceLists stream queues, and what it does to the EDUs' chains. */
interface DeviceListPage {
  rows: NewQueuedEdu[];
  heads: DeviceListOutboundHead[];
  broken: { userId: string; destination: string }[];
}

export interface FederationSendingDeps {
  serverName: string;
  storage: FederationSendingStorage;
  sender: FederationSender;
  sources: EphemeralSources;
  logger: Logger;
  backoff?: BackoffSettings;
  /** DestinationDeps.catchUpAfterPdus. */
  catchUpAfterPdus?: number;
  now?: () => number;
}

export class FederationSending {
  private readonly destinations = new Map<string, DestinationQueue>();
  readonly servers: RoomServers;
  private readonly store: FederationSendingStore;
  private intake: EventRecord[] = [];
  private draining?: Promise<void>;
  /** Events up to here are queued (or queued nothing); a later intake event is new. */
  private eventsUpTo = 0;
  private savedEventsMark = 0;
  private lastMarkSave = 0;
  private deviceListsUpTo = 0;
  private started = false;
  private closed = false;
  private ephemeralChain: Promise<void> = Promise.resolve();
  private deviceListChain: Promise<void> = Promise.resolve();
  private readonly typing = new Map<string, Set<string>>();
  private receiptsAfter?: number;
  private readonly signingKeysSent = new LruCache<string, string>(SIGNING_KEYS_REMEMBERED);
  /** Transaction IDs: the start time, then a counter (unique across restarts, as Synapse's). */
  private readonly txnBase = Date.now();
  private txnCounter = 0;

  constructor(private readonly deps: FederationSendingDeps) {
    this.store = deps.storage.federationSending;
    this.servers = new RoomServers(deps.storage.deviceLists, deps.serverName);
  }

  /** Resumes the stored queues and catches up on what was committed but not queued. */
  async start(): Promise<void> {
    const { rooms, deviceLists } = this.deps.storage;
    await this.store.initialisePosition('events', await rooms.maxStreamOrdering());
    await this.store.initialisePosition('deviceLists', await deviceLists.maxPosition());
    this.eventsUpTo = this.savedEventsMark = (await this.store.position('events')) ?? 0;
    this.deviceListsUpTo = (await this.store.position('deviceLists')) ?? 0;
    for (const destination of await this.store.destinationsWithQueues()) {
      this.queueFor(destination).kick();
    }
    await this.catchUpEvents(await rooms.maxStreamOrdering());
    this.started = true;
    this.drain();
    this.deviceListsChanged(await deviceLists.maxPosition());
  }

  /** `eventsCommitted`: an append, nothing awaited. */
  eventsCommitted(records: readonly EventRecord[]): void {
    if (this.closed) return;
    this.intake.push(...records);
    this.drain();
  }

  /** The Notifier's observer: typing, receipts, presence, device lists. Never throws. */
  observe(change: ObservedChange): void {
    if (this.closed) return;
    if (change.stream === 'deviceLists') {
      this.deviceListsChanged(change.position);
      return;
    }
    if (!['typing', 'receipts', 'presence'].includes(change.stream)) return;
    this.ephemeralChain = this.ephemeralChain
      .then(() => this.ephemeralChange(change))
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'federation: ephemeral EDUs failed'));
  }

  /** The server sent us something: it is up, so its backoff ends and its queue goes on. */
  heardFrom(server: string): void {
    this.destinations.get(server)?.wake();
  }

  /**
   * To-device messages to remote users, stored per destination before the
   * client is answered. The message_id derives from the sender's device and
   * transaction, so a client's retry sends the same ID and the receiver drops
   * the repeat.
   */
  async sendToDevice(message: RemoteToDeviceMessage): Promise<void> {
    const { userId, deviceId } = message.sender;
    const messageId = createHash('sha256')
      .update(`${userId}\n${deviceId}\n${message.eventType}\n${message.txnId}`)
      .digest('base64url')
      .slice(0, 24);
    const edus = directToDeviceEdus(
      { sender: userId, type: message.eventType, messageId },
      message.messages as Record<string, Record<string, JsonObject>>,
      this.deps.serverName,
    );
    await this.storeEdus([...edus].map(([destination, edu]) => eduRow(destination, edu)));
  }

  /** A destination's queue (tests, metrics). */
  queue(destination: string): DestinationQueue | undefined {
    return this.destinations.get(destination);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
    await this.ephemeralChain;
    await this.deviceListChain;
    await this.saveEventsMark(true).catch(() => {});
    await Promise.all([...this.destinations.values()].map((queue) => queue.close()));
  }

  private queueFor(destination: string): DestinationQueue {
    let queue = this.destinations.get(destination);
    if (!queue) {
      queue = new DestinationQueue(destination, {
        serverName: this.deps.serverName,
        store: this.store,
        rooms: this.deps.storage.rooms,
        sender: this.deps.sender,
        backoff: this.deps.backoff ?? DEFAULT_BACKOFF,
        ...(this.deps.catchUpAfterPdus === undefined
          ? {}
          : { catchUpAfterPdus: this.deps.catchUpAfterPdus }),
        logger: this.deps.logger,
        nextTxnId: () => `${this.txnBase}.${++this.txnCounter}`,
        ...(this.deps.now ? { now: this.deps.now } : {}),
      });
      this.destinations.set(destination, queue);
      if (!this.closed) queue.start();
    }
    return queue;
  }

  // Events.

  private drain(): void {
    if (!this.started || this.draining) return;
    this.draining = this.drainIntake()
      .catch((err: unknown) =>
        this.deps.logger.error({ err }, 'federation: queueing events failed'),
      )
      .finally(() => {
        this.draining = undefined;
        if (this.intake.length > 0 && !this.closed) this.drain();
      });
  }

  private async drainIntake(): Promise<void> {
    while (this.intake.length > 0) {
      const batch = this.intake.filter((record) => record.streamOrdering > this.eventsUpTo);
      this.intake = [];
      try {
        await this.queueEvents(batch);
      } catch (err) {
        // Not queued: read from the store again (the mark did not move past them).
        this.deps.logger.error({ err }, 'federation: queueing events failed, reading them again');
        await this.catchUpEvents(Math.max(...batch.map((r) => r.streamOrdering), this.eventsUpTo));
      }
    }
  }

  /** Reads and queues the events after the mark up to `upTo` (at start, after a failure). */
  private async catchUpEvents(upTo: number): Promise<void> {
    while (this.eventsUpTo < upTo && !this.closed) {
      const ids = await this.store.eventIdsAfter(this.eventsUpTo, upTo, STORE_PAGE);
      if (ids.length === 0) break;
      const records = await this.deps.storage.rooms.getEvents(ids);
      await this.queueEvents(records.sort((a, b) => a.streamOrdering - b.streamOrdering));
    }
  }

  /** Rolls the rooms' servers over the events and stores each local event's destinations. */
  private async queueEvents(records: readonly EventRecord[]): Promise<void> {
    const last = records.at(-1);
    if (!last) return;
    const rows: QueuedPdu[] = [];
    for (const record of records) {
      const { before, after } = await this.servers.apply(record);
      if (!isLocal(record.pdu.sender, this.deps.serverName)) continue;
      for (const destination of destinationsOf(record.pdu, before, after, this.deps.serverName)) {
        rows.push({ destination, streamOrdering: record.streamOrdering, eventId: record.eventId });
      }
    }
    this.eventsUpTo = Math.max(this.eventsUpTo, last.streamOrdering);
    if (rows.length === 0) return this.saveEventsMark(false);
    await this.store.enqueuePdus(rows, this.eventsUpTo);
    this.savedEventsMark = this.eventsUpTo;
    for (const destination of new Set(rows.map((row) => row.destination))) {
      this.queueFor(destination).kick();
    }
  }

  private async saveEventsMark(force: boolean): Promise<void> {
    if (this.eventsUpTo <= this.savedEventsMark) return;
    const now = Date.now();
    if (!force && now - this.lastMarkSave < MARK_INTERVAL_MS) return;
    this.lastMarkSave = now;
    await this.store.enqueuePdus([], this.eventsUpTo);
    this.savedEventsMark = this.eventsUpTo;
  }

  // Device lists and signing keys.

  private deviceListsChanged(position: number): void {
    if (!this.started || this.closed) return;
    this.deviceListChain = this.deviceListChain
      .then(() => this.queueDeviceListChanges(position))
      .catch((err: unknown) =>
        this.deps.logger.error({ err }, 'federation: device list updates failed'),
      );
  }

  /**
   * The deviceLists stream's changes after the mark up to `upTo`, as stored
   * EDUs: per changed device an m.device_list_update, chained per destination
   * (planDeviceListUpdates), and m.signing_key_update for cross-signing keys.
   */
  private async queueDeviceListChanges(upTo: number): Promise<void> {
    const { deviceLists } = this.deps.storage;
    while (this.deviceListsUpTo < upTo && !this.closed) {
      const changes = await deviceLists.changesAfter(this.deviceListsUpTo, upTo, STORE_PAGE);
      if (changes.length === 0) break;
      const local = changes.filter((change) => isLocal(change.userId, this.deps.serverName));
      const page = await this.planDeviceListPage(groupDeviceListChanges(local));
      // Ended before the EDUs are queued: a crash between must not leave a chain
      // to a server that missed an update (its next one would pass as a delta).
      await deviceLists.breakOutboundChains(page.broken);
      const position = changes.at(-1)!.position;
      await this.store.enqueueEdus(page.rows, { stream: 'deviceLists', upTo: position });
      this.deviceListsUpTo = position;
      // Moved after: a crash before leaves older heads, which the servers have too;
      // the next update names one that is not their latest, and they resync.
      await deviceLists.setOutboundHeads(page.heads);
      for (const destination of new Set(page.rows.map((row) => row.destination))) {
        this.queueFor(destination).kick();
      }
    }
  }

  /** The EDU rows of a page's users, and what happens to their chains. */
  private async planDeviceListPage(users: UserDeviceListChanges[]): Promise<DeviceListPage> {
    const heads = await this.deps.storage.deviceLists.outboundHeads(users.map((u) => u.userId));
    const page: DeviceListPage = { rows: [], heads: [], broken: [] };
    for (const user of users) {
      const chains = new Map(
        heads.filter((h) => h.userId === user.userId).map((h) => [h.destination, h.streamId]),
      );
      const { rows, plan } = await this.planDeviceListsOf(user, chains);
      page.rows.push(...rows);
      page.heads.push(...plan.heads);
      page.broken.push(...plan.broken);
    }
    return page;
  }

  /** One user's EDUs to each server that shares a room with them now. */
  private async planDeviceListsOf(
    user: UserDeviceListChanges,
    chains: ReadonlyMap<string, number>,
  ): Promise<{ rows: NewQueuedEdu[]; plan: DeviceListPlan }> {
    const destinations = await this.servers.serversOfRooms(
      await this.deps.storage.rooms.roomsWithMembership(user.userId, 'join'),
    );
    const plan = planDeviceListUpdates(await this.deviceUpdates(user), destinations, chains);
    const signing =
      user.crossSigning && destinations.size > 0
        ? await this.signingKeyEdu(user.userId)
        : undefined;
    const rows: NewQueuedEdu[] = [];
    for (const destination of destinations) {
      const edus = [...(plan.edus.get(destination) ?? []), ...(signing ? [signing] : [])];
      rows.push(...edus.map((edu) => eduRow(destination, edu)));
    }
    return { rows, plan };
  }

  /** The user's changed devices as they are now: their keys with signatures, or deleted. */
  private async deviceUpdates(user: UserDeviceListChanges): Promise<DeviceListUpdate[]> {
    const { devices, e2eeKeys } = this.deps.storage;
    const existing = new Set((await devices.listDevices(user.userId)).map((d) => d.deviceId));
    const present = user.devices.map((d) => d.deviceId).filter((id) => existing.has(id));
    // An empty list would read every device's keys.
    const stored = present.length > 0 ? await e2eeKeys.deviceKeys(user.userId, present) : [];
    const signatures = stored.length > 0 ? await e2eeKeys.signaturesOn(user.userId) : [];
    const keys = new Map(
      stored.map((d) => [
        d.deviceId,
        withSignatures(JSON.parse(d.keyJson) as JsonObject, signatures, d.deviceId) as JsonObject,
      ]),
    );
    return user.devices.map(({ deviceId, streamId }) => {
      const update: DeviceListUpdate = { userId: user.userId, deviceId, streamId };
      if (!existing.has(deviceId)) return update;
      const deviceKeys = keys.get(deviceId);
      // A device that uploaded no keys yet (a rename) has none to send.
      update.device = {};
      if (deviceKeys) update.device.keys = deviceKeys;
      return update;
    });
  }

  /** m.signing_key_update of the user's master and self-signing keys, unless those were sent last. */
  private async signingKeyEdu(userId: string): Promise<Edu | undefined> {
    const crossSigning = await this.deps.storage.e2eeKeys.crossSigningKeys(userId);
    if (!crossSigning.master && !crossSigning.self_signing) return undefined;
    const shared = JSON.stringify([crossSigning.master, crossSigning.self_signing]);
    if (this.signingKeysSent.get(userId) === shared) return undefined;
    this.signingKeysSent.set(userId, shared);
    return signingKeyUpdateEdu(userId, {
      ...(crossSigning.master ? { master: JSON.parse(crossSigning.master) as JsonObject } : {}),
      ...(crossSigning.self_signing
        ? { selfSigning: JSON.parse(crossSigning.self_signing) as JsonObject }
        : {}),
    });
  }

  private async storeEdus(rows: NewQueuedEdu[]): Promise<void> {
    if (rows.length === 0) return;
    await this.store.enqueueEdus(rows);
    for (const destination of new Set(rows.map((row) => row.destination))) {
      this.queueFor(destination).kick();
    }
  }

  // Typing, receipts, presence: in memory.

  private async ephemeralChange(change: ObservedChange): Promise<void> {
    if (change.stream === 'typing') {
      for (const roomId of change.roomIds) await this.typingChanged(roomId);
    } else if (change.stream === 'receipts') {
      await this.receiptsChanged(change.position);
    } else if (change.stream === 'presence') {
      await this.presenceChanged(change);
    }
  }

  /** Our users who started or stopped typing in the room since the last change. */
  private async typingChanged(roomId: string): Promise<void> {
    const ours = this.deps.serverName;
    const now = new Set(this.deps.sources.typists(roomId).filter((u) => isLocal(u, ours)));
    const before = this.typing.get(roomId) ?? new Set<string>();
    if (now.size > 0) this.typing.set(roomId, now);
    else this.typing.delete(roomId);
    const edus = [
      ...[...now].filter((u) => !before.has(u)).map((u) => typingEdu(roomId, u, true)),
      ...[...before].filter((u) => !now.has(u)).map((u) => typingEdu(roomId, u, false)),
    ];
    if (edus.length === 0) return;
    for (const destination of await this.servers.serversOf(roomId)) {
      for (const edu of edus) this.queueFor(destination).addEphemeral(edu);
    }
  }

  private async receiptsChanged(position: number): Promise<void> {
    // The first change tells where the stream was: receipts before the start are not sent.
    const after = this.receiptsAfter ?? position - 1;
    this.receiptsAfter = Math.max(after, position);
    if (position <= after) return;
    const changes = await this.deps.sources.receiptChanges(after, position);
    for (const [roomId, edu] of receiptEdus(changes, this.deps.serverName)) {
      for (const destination of await this.servers.serversOf(roomId)) {
        this.queueFor(destination).addEphemeral(edu);
      }
    }
  }

  /** Our users' presence, to the servers sharing a room with them. */
  private async presenceChanged(change: ObservedChange): Promise<void> {
    const users = change.userIds.filter((u) => isLocal(u, this.deps.serverName));
    if (users.length === 0) return;
    const destinations = await this.servers.serversOfRooms(change.roomIds);
    if (destinations.size === 0) return;
    for (const userId of users) {
      const edu = presenceEdu(userId, await this.deps.sources.presenceOf(userId));
      for (const destination of destinations) this.queueFor(destination).addEphemeral(edu);
    }
  }
}

function eduRow(destination: string, edu: Edu): NewQueuedEdu {
  return { destination, eduType: edu.edu_type, contentJson: JSON.stringify(edu.content) };
}
