/** The rules of receipts and read markers, pure. */
import { errors } from '../protocol/errors.js';

export const RECEIPT_TYPES = ['m.read', 'm.read.private', 'm.fully_read'] as const;
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

/** The receipt types that appear in `m.receipt` (m.fully_read is account data). */
export const SHARED_RECEIPT_TYPE = 'm.read';
export const PRIVATE_RECEIPT_TYPE = 'm.read.private';
export const FULLY_READ = 'm.fully_read';

/** The thread of an unthreaded receipt is absent; of the main timeline, `main`. */
export const MAIN_THREAD = 'main';

export function parseReceiptType(type: string): ReceiptType {
  if (!(RECEIPT_TYPES as readonly string[]).includes(type)) {
    throw errors.invalidParam(`Receipt type must be one of ${RECEIPT_TYPES.join(', ')}`);
  }
  return type as ReceiptType;
}

/**
 * The `thread_id` of a receipt body, as the spec's 400s say: a non-empty
 * string, `main` or a thread root's event ID, never on `m.fully_read`.
 * Whether the event is in that thread needs relations: ReceiptService checks it.
 */
export function parseThreadId(type: ReceiptType, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw errors.invalidParam('thread_id must be a non-empty string');
  }
  if (type === FULLY_READ) throw errors.invalidParam('m.fully_read cannot have a thread_id');
  if (value !== MAIN_THREAD && !isEventId(value)) {
    throw errors.invalidParam('thread_id must be "main" or an event ID');
  }
  return value;
}

export function isEventId(value: string): boolean {
  return /^\$\S+$/.test(value) && Buffer.byteLength(value) <= 255;
}

export interface ReceiptLike {
  receiptType: string;
  userId: string;
  threadId?: string;
  eventId: string;
  ts: number;
}

/**
 * The content of an `m.receipt` event as `viewer` sees it:
 * `{eventId: {type: {userId: {ts, thread_id?}}}}`; others' private receipts left out.
 */
export function receiptContent(
  receipts: readonly ReceiptLike[],
  viewer: string,
): Record<string, Record<string, Record<string, Record<string, unknown>>>> {
  const content: Record<string, Record<string, Record<string, Record<string, unknown>>>> = {};
  for (const r of receipts) {
    if (r.receiptType === PRIVATE_RECEIPT_TYPE && r.userId !== viewer) continue;
    const byType = (content[r.eventId] ??= {});
    const byUser = (byType[r.receiptType] ??= {});
    byUser[r.userId] = { ts: r.ts, ...(r.threadId === undefined ? {} : { thread_id: r.threadId }) };
  }
  return content;
}
