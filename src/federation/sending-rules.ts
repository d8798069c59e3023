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

export interface DeviceListChange {
  userId: string;
  /** The change's position in the deviceLists stream: unique and increasing per user. */
  streamId: number;
  /** A device the user has now (the first by ID), or undefined when none is left. */
  device?: { deviceId: string; displayName: string | null; keys?: JsonObject };
}

/**
 * m.device_list_update for one change of a user's device list. Weft records
 * changes per user, not per device, so it does not know which device changed:
 * it names one the user has and leaves `prev_id` out, which tells the peer to
 * fetch the whole list again (as Synapse does when it cannot tell what it
 * missed) rather than apply a delta.
 */
export function deviceListUpdateEdu(change: DeviceListChange): Edu {
  const content: JsonObject = {
    user_id: change.userId,
    device_id: change.device?.deviceId ?? '',
    stream_id: change.streamId,
    deleted: change.device === undefined,
  };
  if (change.device?.displayName) content.device_display_name = change.device.displayName;
  if (change.device?.keys) content.keys = change.device.keys;
  return { edu_type: 'm.device_list_update', content };
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
