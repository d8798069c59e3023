/**
 * The shape and pace of transactions to an application service (pure): what a
 * transaction body holds for a registration's options, how many of each kind
 * go in one, and how long to wait before retrying a failed one.
 */
import type { AppServiceRegistration } from '../domain/appservice.js';
import { APP_PREFIX } from './appservice-http.js';

/** Synapse's MAX_PERSISTENT_EVENTS_PER_TRANSACTION (synapse/appservice/scheduler.py). */
export const MAX_EVENTS_PER_TRANSACTION = 100;
/** Synapse's MAX_EPHEMERAL_EVENTS_PER_TRANSACTION. */
export const MAX_EPHEMERAL_PER_TRANSACTION = 100;
/** Synapse's MAX_TO_DEVICE_MESSAGES_PER_TRANSACTION. */
export const MAX_TO_DEVICE_PER_TRANSACTION = 100;

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;

type Json = Record<string, unknown>;

/** MSC3202: device list changes of users the service's users share rooms with. */
export interface DeviceListSummary {
  changed: string[];
  left: string[];
}

/** MSC3202: per namespaced user, per device: one-time key counts by algorithm. */
export type OneTimeKeyCounts = Record<string, Record<string, Record<string, number>>>;
/** MSC3202: per namespaced user, per device: the algorithms of unused fallback keys. */
export type UnusedFallbackKeys = Record<string, Record<string, string[]>>;

export interface TransactionContent {
  /** Room events in client format, in stream order. */
  events: Json[];
  ephemeral: Json[];
  /** To-device messages with to_user_id and to_device_id (MSC4203). */
  toDevice: Json[];
  deviceLists?: DeviceListSummary;
  oneTimeKeyCounts?: OneTimeKeyCounts;
  unusedFallbackKeys?: UnusedFallbackKeys;
}

/**
 * The body as Synapse puts it on the wire (ApplicationServiceApi.push_bulk):
 * `events` always; ephemeral events under the stable or the MSC2409 name as
 * the registration asks, to-device messages with either; the MSC3202 fields
 * only when set and non-empty, the key counts under both names Synapse uses.
 */
export function transactionBody(registration: AppServiceRegistration, content: TransactionContent) {
  const body: Json = { events: content.events };
  if (registration.ephemeral === 'stable') body.ephemeral = content.ephemeral;
  if (registration.ephemeral === 'msc2409')
    body['de.sorunome.msc2409.ephemeral'] = content.ephemeral;
  if (registration.ephemeral !== 'none') body['de.sorunome.msc2409.to_device'] = content.toDevice;
  if (!registration.msc3202) return body;
  if (content.oneTimeKeyCounts && Object.keys(content.oneTimeKeyCounts).length > 0) {
    body['org.matrix.msc3202.device_one_time_key_counts'] = content.oneTimeKeyCounts;
    body['org.matrix.msc3202.device_one_time_keys_count'] = content.oneTimeKeyCounts;
  }
  if (content.unusedFallbackKeys && Object.keys(content.unusedFallbackKeys).length > 0) {
    body['org.matrix.msc3202.device_unused_fallback_key_types'] = content.unusedFallbackKeys;
  }
  const lists = content.deviceLists;
  if (lists && (lists.changed.length > 0 || lists.left.length > 0)) {
    body['org.matrix.msc3202.device_lists'] = { changed: lists.changed, left: lists.left };
  }
  return body;
}

/** Whether a transaction with this content has anything to say to the service. */
export function hasContent(content: TransactionContent): boolean {
  return (
    content.events.length > 0 ||
    content.ephemeral.length > 0 ||
    content.toDevice.length > 0 ||
    (content.deviceLists !== undefined &&
      content.deviceLists.changed.length + content.deviceLists.left.length > 0)
  );
}

/** `PUT {url}/_matrix/app/v1/transactions/{txnId}`'s path. */
export function transactionPath(txnId: string): string {
  return `${APP_PREFIX}/transactions/${encodeURIComponent(txnId)}`;
}

/** The wait before the next attempt after `failures` failed ones: 1 s, 2 s, 4 s … at most 5 min. */
export function retryDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 30));
}

/** Whether an answer acknowledges the transaction: any 2xx, as the spec says. */
export function acknowledges(status: number): boolean {
  return status >= 200 && status < 300;
}
