/**
 * The two hashes of an event (spec server-server API, "Calculating the content
 * hash for an event" and "Calculating the reference hash for an event") and
 * the identifiers derived from the reference hash (rooms/v4 "Event IDs";
 * rooms/v12 room IDs).
 */
import { hash } from 'node:crypto';
import type { RoomVersion } from './room-versions.js';
import { canonicalJson, canonicalJsonBytes } from './canonical-json.js';
import type { JsonObject, Pdu } from './pdu.js';
import { redactEvent } from './redaction.js';

type EventJson = Pdu | JsonObject;

/**
 * SHA-256 of the whole, unredacted event without `unsigned` (changes in
 * transit), `signatures` (which cover the hash) and `hashes` itself, as
 * unpadded standard base64: the value of `hashes.sha256`.
 */
export function contentHash(event: EventJson): string {
  return contentHashOf(contentHashInput(event));
}

/** The canonical JSON the content hash covers (kept by `sealEvent` to size the PDU). */
export function contentHashInput(event: EventJson): string {
  return canonicalJson(withoutKeys(event, ['unsigned', 'signatures', 'hashes']));
}

/** `hashes.sha256` for the output of `contentHashInput`. */
export function contentHashOf(input: string): string {
  return unpaddedBase64(sha256(input));
}

/** A copy of the event with `hashes.sha256` set ("Adding hashes and signatures to outgoing events"). */
export function addContentHash<T extends EventJson>(event: T): T {
  return { ...event, hashes: { sha256: contentHash(event) } };
}

/**
 * SHA-256 of the redacted event without `signatures` and `unsigned` (older
 * spec text also lists `age_ts`, which redaction already removes). Raw bytes.
 */
export function referenceHash(event: EventJson, version: RoomVersion): Buffer {
  const covered = withoutKeys(redactEvent(event, version), ['signatures', 'unsigned', 'age_ts']);
  return sha256(canonicalJsonBytes(covered));
}

/** `$` + the reference hash in unpadded URL-safe base64 (room versions 4+). */
export function eventIdFor(event: EventJson, version: RoomVersion): string {
  return eventIdFromReferenceHash(referenceHash(event, version), version);
}

/** The event ID for a reference hash already computed (as `sealEvent` returns it). */
export function eventIdFromReferenceHash(referenceHash: Buffer, version: RoomVersion): string {
  return '$' + encodeReferenceHash(referenceHash, version);
}

/**
 * The room ID of a room whose version derives it from the create event (v12):
 * the create event's ID with the `!` sigil instead of `$`, no server part.
 */
export function roomIdFor(createEvent: EventJson, version: RoomVersion): string {
  if (!version.roomIdFromCreateEvent) {
    throw new Error(`Room version ${version.id} does not derive room IDs from the create event`);
  }
  if (createEvent.type !== 'm.room.create') throw new Error('Not an m.room.create event');
  return '!' + encodeReferenceHash(referenceHash(createEvent, version), version);
}

function encodeReferenceHash(hash: Buffer, version: RoomVersion): string {
  switch (version.eventIdFormat) {
    case 'reference-hash-url':
      // Node's base64url output is already unpadded.
      return hash.toString('base64url');
  }
}

/** One-shot SHA-256; a string is hashed as its UTF-8 bytes, as canonical JSON is defined. */
export function sha256(data: string | Buffer): Buffer {
  return Buffer.from(hash('sha256', data, 'base64'), 'base64');
}

/** Standard base64 without `=` padding (spec appendices, "Unpadded Base64"). */
export function unpaddedBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** A shallow copy without the given top-level keys. */
export function withoutKeys(object: EventJson, keys: readonly string[]): JsonObject {
  const copy = { ...(object as JsonObject) };
  for (const key of keys) delete copy[key];
  return copy;
}
