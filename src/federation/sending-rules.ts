/**
 * The rules of sending to other servers (pure): which servers a room's event
 * goes to, how a transaction is cut from a destination's queue, the PDU as it
 * goes on the wire, the outbound EDUs' contents, and the backoff of a
 * destination that does not answer.
 */
import { serverNameOf } from '../events/auth/ids.js';
import type { JsonObject, Pdu } from '../events/pdu.js';

/** The spec's limits of one transaction (server-server API, "Transactions"). */
export const MAX_PDUS_PER_TRANSACTION = 50;
export const MAX_EDUS_PER_TRANSACTION = 100;
/** In-memory EDUs (typing, receipts, presence) kept per destination at most; the oldest go first. */
export const MAX_EPHEMERAL_EDUS = 1_000;

export interface Edu {
  edu_type: string;
  content: JsonObject;
}

export interface BackoffSettings {
  /** The wait after the first failure; each next failure doubles it. */
  initialMs: number;
  maxMs: number;
}

/** Synapse's federation backoff: 5 s after the first failure, doubling, at most an hour. */
export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 5_000, maxMs: 60 * 60_000 };

/** The wait before the next attempt after `failures` failed ones in a row. */
export function retryDelayMs(failures: number, settings: BackoffSettings): number {
  if (failures <= 0) return 0;
  return Math.min(settings.maxMs, settings.initialMs * 2 ** Math.min(failures - 1, 40));
}

/** The servers of these users (their IDs' server parts), ours left out. */
export function serversOf(userIds: Iterable<string>, ourServer: string): Set<string> {
  const servers = new Set<string>();
  for (const userId of userIds) {
    const server = serverNameOf(userId);
    if (server && server !== ourServer) servers.add(server);
  }
  return servers;
}

/** Whether the ID (a user's, an event sender's) belongs to this server. */
export function isLocal(userId: string, ourServer: string): boolean {
  return serverNameOf(userId) === ourServer;
}

/**
 * The servers an event goes to: those with joined members before it or after
 * it (so a leaving or kicked server hears of its leave, a joining one of its
 * join), and for a member event the server of the user it is about (an
 * invitee who is not in the room yet). Sorted, ours never among them.
 */
export function destinationsOf(
  pdu: Pick<Pdu, 'type' | 'state_key'>,
  before: ReadonlySet<string>,
  after: ReadonlySet<string>,
  ourServer: string,
): string[] {
  const servers = new Set([...before, ...after]);
  if (pdu.type === 'm.room.member' && pdu.state_key !== undefined) {
    for (const server of serversOf([pdu.state_key], ourServer)) servers.add(server);
  }
  servers.delete(ourServer);
  return [...servers].sort();
}

/**
 * The PDU as it goes to other servers: as stored, without `unsigned` (local
 * data: the transaction ID, ages, prev_content), and no `event_id` (room
 * versions 3 and later derive it; the stored PDU never holds it).
 */
export function wirePdu(pdu: Pdu): JsonObject {
  const wire = { ...pdu } as Partial<Pdu>;
  delete wire.unsigned;
  return wire as unknown as JsonObject;
}

export interface TransactionParts {
  origin: string;
  originServerTs: number;
  pdus: JsonObject[];
  edus: Edu[];
}

/** `PUT /_matrix/federation/v1/send/{txnId}`'s body. */
export function transactionBody(parts: TransactionParts): JsonObject {
  const body: JsonObject = {
    origin: parts.origin,
    origin_server_ts: parts.originServerTs,
    pdus: parts.pdus,
  };
  if (parts.edus.length > 0) body.edus = parts.edus as unknown as JsonObject[];
  return body;
}

export function transactionPath(txnId: string): string {
  return `/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`;
}

/** Whether an answer acknowledges a transaction: any 2xx. */
export function acknowledges(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The PDUs a 2xx answer says were refused (`pdus: {eventId: {error}}`), to log. */
export function refusedPdus(body: unknown): { eventId: string; error: string }[] {
  if (typeof body !== 'object' || body === null) return [];
  const pdus = (body as { pdus?: unknown }).pdus;
  if (typeof pdus !== 'object' || pdus === null) return [];
  const refused: { eventId: string; error: string }[] = [];
  for (const [eventId, result] of Object.entries(pdus as Record<string, unknown>)) {
    const error = (result as { error?: unknown } | null)?.error;
    if (typeof error === 'string') refused.push({ eventId, error });
  }
  return refused;
}

/**
 * What a later in-memory EDU replaces in a destination's waiting list: a
 * user's typing in a room, a user's presence. Receipts are not replaced (each
 * batch holds several users' and several rooms').
 */
export function replacementKey(edu: Edu): string | undefined {
  const c = edu.content;
  if (edu.edu_type === 'm.typing') return `typing ${String(c.room_id)} ${String(c.user_id)}`;
  if (edu.edu_type === 'm.presence') {
    const push = c.push as JsonObject[] | undefined;
    if (push?.length === 1) return `presence ${String(push[0]!.user_id)}`;
  }
  return undefined;
}

/** Adds an EDU to a waiting list: it replaces an older one it supersedes; the list stays bounded. */
export function addEphemeral(list: Edu[], edu: Edu, max = MAX_EPHEMERAL_EDUS): void {
  const key = replacementKey(edu);
  if (key !== undefined) {
    const older = list.findIndex((waiting) => replacementKey(waiting) === key);
    if (older >= 0) list.splice(older, 1);
  }
  list.push(edu);
  if (list.length > max) list.splice(0, list.length - max);
}

export function typingEdu(roomId: string, userId: string, typing: boolean): Edu {
  return { edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing } };
}

export interface ReceiptChange {
  roomId: string;
  receiptType: string;
  userId: string;
  threadId?: string;
  eventId: string;
  ts: number;
}

/**
 * m.receipt EDUs, one per room, of our users' public read receipts (never
 * m.read.private): `{room: {m.read: {user: {event_ids, data: {ts, thread_id}}}}}`.
 * A user's threaded receipts in one room: the latest of the batch is sent.
 */
export function receiptEdus(
  changes: readonly ReceiptChange[],
  ourServer: string,
): Map<string, Edu> {
  const byRoom = new Map<string, Record<string, JsonObject>>();
  for (const change of changes) {
    if (change.receiptType !== 'm.read' || !isLocal(change.userId, ourServer)) continue;
    let users = byRoom.get(change.roomId);
    if (!users) byRoom.set(change.roomId, (users = {}));
    const data: JsonObject = { ts: change.ts };
    if (change.threadId !== undefined) data.thread_id = change.threadId;
    users[change.userId] = { event_ids: [change.eventId], data };
  }
  const edus = new Map<string, Edu>();
  for (const [roomId, users] of byRoom) {
    edus.set(roomId, { edu_type: 'm.receipt', content: { [roomId]: { 'm.read': users } } });
  }
  return edus;
}

/** m.presence of one user, from the client-format content (presence, last_active_ago, ...). */
export function presenceEdu(userId: string, content: Record<string, unknown>): Edu {
  const entry: JsonObject = {
    user_id: userId,
    presence: String(content.presence ?? 'offline'),
    last_active_ago: Number(content.last_active_ago ?? 0),
  };
  if (typeof content.currently_active === 'boolean')
    entry.currently_active = content.currently_active;
  if (typeof content.status_msg === 'string') entry.status_msg = content.status_msg;
  return { edu_type: 'm.presence', content: { push: [entry] } };
}

/** A change of the deviceLists stream (storage's DeviceListChangeRecord). */
export interface DeviceListStreamChange {
  position: number;
  userId: string;
  /** Absent: the user's cross-signing keys. */
  deviceId?: string;
}

/** One user's changes in a page of the deviceLists stream. */
export interface UserDeviceListChanges {
  userId: string;
  /** Each device changed, at its latest position in the page, in stream order. */
  devices: { deviceId: string; streamId: number }[];
  /** Their cross-signing keys changed (m.signing_key_update). */
  crossSigning: boolean;
}

/**
 * A page of changes (in stream order) per user, users in the order of their
 * first change. A device changed twice is sent once, at its latest position:
 * its EDU carries the device as it is when queued, which covers both (as Synapse).
 */
export function groupDeviceListChanges(
  changes: readonly DeviceListStreamChange[],
): UserDeviceListChanges[] {
  const byUser = new Map<string, { devices: Map<string, number>; crossSigning: boolean }>();
  for (const { userId, deviceId, position } of changes) {
    let user = byUser.get(userId);
    if (!user) byUser.set(userId, (user = { devices: new Map(), crossSigning: false }));
    if (deviceId === undefined) {
      user.crossSigning = true;
    } else {
      // Set again at the end, so the devices stay in the order of their latest changes.
      user.devices.delete(deviceId);
      user.devices.set(deviceId, position);
    }
  }
  return [...byUser].map(([userId, user]) => ({
    userId,
    devices: [...user.devices].map(([deviceId, streamId]) => ({ deviceId, streamId })),
    crossSigning: user.crossSigning,
  }));
}

/** A changed device as its EDU tells it. */
export interface DeviceListUpdate {
  userId: string;
  deviceId: string;
  /** Its position in the deviceLists stream: unique and increasing per user. */
  streamId: number;
  /** The stream_id of the user's update queued for the destination before this one, if known. */
  prevId?: number;
  /** Undefined: the device was deleted. Else its keys (with their signatures), if it has any. */
  device?: { keys?: JsonObject };
}

/**
 * m.device_list_update for one device. Without a `prevId` it sends an empty
 * `prev_id`, which tells the receiver it cannot apply this as a delta and
 * must fetch the whole list (`/user/devices`) again (the spec: "may be missing
 * or empty for the first EDU in a sequence"; Synapse resyncs on it).
 *
 * No `device_display_name`: other servers do not get our devices' names
 * (as `/user/devices` and `/user/keys/query`, e2ee/keys-service.ts; Synapse's
 * default, `allow_device_name_lookup_over_federation: false`, covers its EDUs too).
 */
export function deviceListUpdateEdu(update: DeviceListUpdate): Edu {
  const content: JsonObject = {
    user_id: update.userId,
    device_id: update.deviceId,
    stream_id: update.streamId,
    prev_id: update.prevId === undefined ? [] : [update.prevId],
  };
  if (update.device === undefined) content.deleted = true;
  else if (update.device.keys) content.keys = update.device.keys;
  return { edu_type: 'm.device_list_update', content };
}

/** What queueing one user's device updates of a page does to each destination. */
export interface DeviceListPlan {
  /** Per destination, the EDUs in stream order. */
  edus: Map<string, Edu[]>;
  /** The chains' new heads: each destination sent to, at the page's last update. */
  heads: { userId: string; destination: string; streamId: number }[];
  /** Chains to servers that do not get these updates: their next update cannot name a prev_id. */
  broken: { userId: string; destination: string }[];
}

/**
 * Chains the user's updates of a page, destination by destination: the first
 * names the chain's head (the update queued for that server before, if any),
 * each next one the one before it. The queue delivers a destination's EDUs in
 * order and keeps them until acknowledged, so whatever an EDU names arrives
 * first. A server the updates do not go to (it shares no room with the user
 * now) misses them: its chain ends, so that what it is sent later does not
 * name an update it has and pass as a delta over the ones it missed.
 */
export function planDeviceListUpdates(
  updates: readonly DeviceListUpdate[],
  destinations: ReadonlySet<string>,
  heads: ReadonlyMap<string, number>,
): DeviceListPlan {
  const plan: DeviceListPlan = { edus: new Map(), heads: [], broken: [] };
  const last = updates.at(-1);
  if (!last) return plan;
  for (const destination of heads.keys()) {
    if (!destinations.has(destination)) plan.broken.push({ userId: last.userId, destination });
  }
  for (const destination of destinations) {
    let prevId = heads.get(destination);
    const edus = updates.map((update) => {
      const edu = deviceListUpdateEdu(prevId === undefined ? update : { ...update, prevId });
      prevId = update.streamId;
      return edu;
    });
    plan.edus.set(destination, edus);
    plan.heads.push({ userId: last.userId, destination, streamId: last.streamId });
  }
  return plan;
}

/** m.signing_key_update: the user's master and self-signing keys (those it has). */
export function signingKeyUpdateEdu(
  userId: string,
  keys: { master?: JsonObject; selfSigning?: JsonObject },
): Edu {
  const content: JsonObject = { user_id: userId };
  if (keys.master) content.master_key = keys.master;
  if (keys.selfSigning) content.self_signing_key = keys.selfSigning;
  return { edu_type: 'm.signing_key_update', content };
}

/**
 * m.direct_to_device EDUs, one per destination server: the messages to its
 * users (user → device or `*` → content), under one message_id.
 */
export function directToDeviceEdus(
  message: { sender: string; type: string; messageId: string },
  messages: Record<string, Record<string, JsonObject>>,
  ourServer: string,
): Map<string, Edu> {
  const byServer = new Map<string, Record<string, Record<string, JsonObject>>>();
  for (const [userId, byDevice] of Object.entries(messages)) {
    const server = serverNameOf(userId);
    if (!server || server === ourServer) continue;
    let users = byServer.get(server);
    if (!users) byServer.set(server, (users = {}));
    users[userId] = byDevice;
  }
  const edus = new Map<string, Edu>();
  for (const [server, users] of byServer) {
    edus.set(server, {
      edu_type: 'm.direct_to_device',
      content: {
        sender: message.sender,
        type: message.type,
        message_id: message.messageId,
        messages: users as unknown as JsonObject,
      },
    });
  }
  return edus;
}
