/**
 * Inbound EDUs, read (pure): each parser answers the EDU's meaning, or
 * undefined when the content is malformed (the receiver ignores it). Whether
 * the origin may speak for the user it names is checked here too: a server
 * speaks only for its own users.
 */
import { serverNameOf } from '../events/auth/ids.js';
import type { JsonObject } from '../events/pdu.js';
import { PRESENCE_STATES, type PresenceState } from '../presence/presence-rules.js';

/** A status message is bounded as our own users' are. */
const MAX_STATUS_MSG_LENGTH = 1024;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Whether the user ID is the origin's (the only users it may speak for). */
export function speaksFor(origin: string, userId: unknown): userId is string {
  return isString(userId) && userId.startsWith('@') && serverNameOf(userId) === origin;
}

export interface TypingEdu {
  roomId: string;
  userId: string;
  typing: boolean;
}

export function parseTyping(origin: string, content: Json): TypingEdu | undefined {
  const { room_id: roomId, user_id: userId, typing } = content;
  if (!isString(roomId) || !speaksFor(origin, userId) || typeof typing !== 'boolean') return;
  return { roomId, userId, typing };
}

export interface RemoteReceipt {
  roomId: string;
  userId: string;
  /** The receipted event: the last of `event_ids`. */
  eventId: string;
  threadId?: string;
  ts?: number;
}

/** m.receipt: every well-formed m.read receipt of the origin's users (others are skipped). */
export function parseReceipts(origin: string, content: Json): RemoteReceipt[] {
  const receipts: RemoteReceipt[] = [];
  for (const [roomId, byType] of Object.entries(content)) {
    if (!isObject(byType) || !isObject(byType['m.read'])) continue;
    for (const [userId, receipt] of Object.entries(byType['m.read'])) {
      if (!speaksFor(origin, userId) || !isObject(receipt)) continue;
      const ids = receipt.event_ids;
      const eventId = Array.isArray(ids) ? ids.at(-1) : undefined;
      if (!isString(eventId)) continue;
      const data = isObject(receipt.data) ? receipt.data : {};
      const entry: RemoteReceipt = { roomId, userId, eventId };
      if (isString(data.thread_id)) entry.threadId = data.thread_id;
      if (Number.isSafeInteger(data.ts)) entry.ts = data.ts as number;
      receipts.push(entry);
    }
  }
  return receipts;
}

export interface RemotePresence {
  userId: string;
  state: PresenceState;
  statusMsg?: string;
  lastActiveAgo: number;
}

/** m.presence's `push`: the origin's users' presence, the malformed ones skipped. */
export function parsePresence(origin: string, content: Json): RemotePresence[] {
  if (!Array.isArray(content.push)) return [];
  const updates: RemotePresence[] = [];
  for (const entry of content.push as unknown[]) {
    if (!isObject(entry) || !speaksFor(origin, entry.user_id)) continue;
    const state = entry.presence;
    if (!(PRESENCE_STATES as readonly unknown[]).includes(state)) continue;
    const ago = entry.last_active_ago;
    const update: RemotePresence = {
      userId: entry.user_id,
      state: state as PresenceState,
      lastActiveAgo: Number.isSafeInteger(ago) && (ago as number) >= 0 ? (ago as number) : 0,
    };
    if (typeof entry.status_msg === 'string') {
      update.statusMsg = entry.status_msg.slice(0, MAX_STATUS_MSG_LENGTH);
    }
    updates.push(update);
  }
  return updates;
}

export interface RemoteToDevice {
  sender: string;
  type: string;
  messageId: string;
  /** Local user → device ID or `*` → content. */
  messages: Map<string, Map<string, JsonObject>>;
}

/** m.direct_to_device: the messages to our users (others' are not ours to deliver). */
export function parseDirectToDevice(
  origin: string,
  content: Json,
  ourServer: string,
): RemoteToDevice | undefined {
  const { sender, type, message_id: messageId, messages } = content;
  if (!speaksFor(origin, sender) || !isString(type) || !isString(messageId)) return;
  if (!isObject(messages)) return;
  const ours = new Map<string, Map<string, JsonObject>>();
  for (const [userId, byDevice] of Object.entries(messages)) {
    if (serverNameOf(userId) !== ourServer || !isObject(byDevice)) continue;
    const devices = new Map<string, JsonObject>();
    for (const [deviceId, message] of Object.entries(byDevice)) {
      if (isObject(message)) devices.set(deviceId, message as JsonObject);
    }
    if (devices.size > 0) ours.set(userId, devices);
  }
  return { sender, type, messageId, messages: ours };
}

/**
 * m.device_list_update and m.signing_key_update: the user whose keys changed
 * (what the receiver acts on today: their room-mates' clients query again).
 */
export function parseKeysChanged(origin: string, content: Json): string | undefined {
  return speaksFor(origin, content.user_id) ? content.user_id : undefined;
}
