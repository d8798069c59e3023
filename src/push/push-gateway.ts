/**
 * The push gateway API as a client (push gateway spec, `POST /_matrix/push/v1/notify`):
 * the notification body for one device, and the call itself. A pusher's URL is
 * chosen by a user, so the call goes through net/safe-fetch.ts: private,
 * loopback and reserved addresses are refused unless `push.ip_range_whitelist`
 * names them, and redirects are not followed (as Synapse's SimpleHttpClient).
 */
import type { JsonObject, JsonValue } from '../events/pdu.js';
import type { AddressPolicy } from '../net/address-rules.js';
import { safeFetch } from '../net/safe-fetch.js';

/** How long one call may take before it counts as failed. */
const REQUEST_TIMEOUT_MS = 10_000;
/** A gateway answers `{rejected: [...]}`: small. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface GatewayDevice {
  app_id: string;
  pushkey: string;
  pushkey_ts: number;
  /** The pusher's `data` without `url`. */
  data: JsonObject;
  tweaks: Record<string, JsonValue>;
}

/** What the notification says about its event (absent fields are left out). */
export interface EventDetails {
  eventId: string;
  roomId: string;
  type: string;
  sender: string;
  content: JsonObject;
  senderDisplayName?: string;
  roomName?: string;
  roomAlias?: string;
  userIsTarget?: boolean;
}

export interface NotificationInput {
  event: EventDetails;
  /** The user's unread notifications over all rooms (the badge). */
  unread: number;
  device: GatewayDevice;
  /** `event_id_only`: only event_id, room_id, counts and devices are sent. */
  eventIdOnly: boolean;
}

export type GatewayOutcome = { ok: true; rejected: string[] } | { ok: false; reason: string };

/**
 * `high` when the event rings or highlights (or is encrypted, so its content is
 * unknown), as Synapse decides it; `low` lets gateways save the phone's battery.
 */
function priorityOf(event: EventDetails, tweaks: Record<string, JsonValue>): 'high' | 'low' {
  const loud = tweaks.highlight === true || typeof tweaks.sound === 'string';
  return loud || event.type === 'm.room.encrypted' ? 'high' : 'low';
}

export function notificationBody(input: NotificationInput): JsonObject {
  const { event, device } = input;
  // "Counts whose value is zero should be omitted."
  const counts: JsonObject = input.unread > 0 ? { unread: input.unread } : {};
  const devices = [device as unknown as JsonObject];
  if (input.eventIdOnly) {
    return { notification: { event_id: event.eventId, room_id: event.roomId, counts, devices } };
  }
  const notification: JsonObject = {
    event_id: event.eventId,
    room_id: event.roomId,
    type: event.type,
    sender: event.sender,
    prio: priorityOf(event, device.tweaks),
    content: event.content,
    counts,
    devices,
  };
  if (event.senderDisplayName !== undefined) {
    notification.sender_display_name = event.senderDisplayName;
  }
  if (event.roomName !== undefined) notification.room_name = event.roomName;
  if (event.roomAlias !== undefined) notification.room_alias = event.roomAlias;
  if (event.userIsTarget) notification.user_is_target = true;
  return { notification };
}

/** One POST to the gateway; any non-2xx answer, bad body or network error is a failure. */
export async function sendToGateway(
  url: string,
  body: JsonObject,
  policy: AddressPolicy,
  signal: AbortSignal,
): Promise<GatewayOutcome> {
  try {
    const response = await safeFetch(url, {
      policy,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      maxBytes: MAX_ANSWER_BYTES,
      timeoutMs: REQUEST_TIMEOUT_MS,
      followRedirects: false,
      signal,
    });
    if (response.status < 200 || response.status >= 300) {
      return { ok: false, reason: `HTTP ${response.status}` };
    }
    return { ok: true, rejected: rejectedOf(response.body.toString('utf8')) };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** `rejected` of the gateway's answer; a missing or malformed one rejects nothing. */
function rejectedOf(text: string): string[] {
  try {
    const parsed = JSON.parse(text) as { rejected?: unknown };
    const rejected = Array.isArray(parsed.rejected) ? parsed.rejected : [];
    return rejected.filter((key): key is string => typeof key === 'string');
  } catch {
    return [];
  }
}
