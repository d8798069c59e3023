/**
 * The checks on a PDU received from another server that need no storage and
 * no network (server-server API, "Checks performed on receipt of a PDU",
 * steps 1–3): the event format of the room version, the event ID, which
 * servers must have signed it and whether their signatures verify with the
 * keys the caller fetched, and the content hash (a mismatch means we keep
 * the redacted copy). Pure: every function returns a value, none throws on
 * bad input, so one hostile PDU cannot fail a whole transaction.
 */
import { canonicalJsonBytes } from '../events/canonical-json.js';
import { contentHash, eventIdFor, roomIdFor } from '../events/hashing.js';
import type { JsonObject, JsonValue, Pdu } from '../events/pdu.js';
import { redactEvent } from '../events/redaction.js';
import type { RoomVersion } from '../events/room-versions.js';
import { verifyEventSignature, verifyJsonSignature } from '../events/signing.js';
import { isValidUserId, serverNameOf } from '../events/auth/ids.js';

/** The spec's limit on a whole PDU as canonical JSON. */
export const MAX_PDU_BYTES = 65_536;
/** Room, event, user IDs, types and state keys: at most 255 bytes (rooms/v*, "Event format"; Synapse). */
export const MAX_ID_BYTES = 255;
/** The spec's pdu_v4 schema: at most 20 prev_events and 10 auth_events (Synapse enforces both). */
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
/** Canonical JSON's integer limit bounds depth below the spec's 2^63 − 1. */
const MAX_DEPTH = Number.MAX_SAFE_INTEGER;

/** `unsigned` keys a remote server may give us, by event type (as Synapse keeps them); the rest are dropped. */
const UNSIGNED_KEPT: Readonly<Record<string, readonly string[]>> = {
  'm.room.member': ['invite_room_state', 'knock_room_state', 'age'],
};
const UNSIGNED_KEPT_DEFAULT = ['age'];

export type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A PDU that passed the format check, with the IDs derived from it. */
export interface CheckedPdu {
  eventId: string;
  /** The room it is in: `room_id`, or for a v12 create event the ID derived from it. */
  roomId: string;
  pdu: Pdu;
}

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/**
 * Step 1: the PDU's shape against the room version's event format, its size,
 * and (when the caller knows which room it must be in) its room. `unsigned`
 * is cut to what a remote may set. The event ID is the reference hash.
 */
export function checkPduFormat(
  json: unknown,
  version: RoomVersion,
  expectedRoomId?: string,
): Check<CheckedPdu> {
  if (!isObject(json)) return fail('A PDU must be a JSON object');
  const problem = fieldProblem(json, version);
  if (problem) return fail(problem);
  const pdu = withTrimmedUnsigned(json) as unknown as Pdu;
  const encoded = encodedSize(pdu);
  if (typeof encoded === 'string') return fail(encoded);
  if (encoded > MAX_PDU_BYTES) return fail(`The PDU is larger than ${MAX_PDU_BYTES} bytes`);
  const eventId = eventIdFor(pdu, version);
  const roomId = pdu.room_id ?? roomIdFor(pdu, version);
  if (expectedRoomId !== undefined && roomId !== expectedRoomId) {
    return fail(`The PDU is in room ${roomId}, not ${expectedRoomId}`);
  }
  const createInAuth = createEventListedInAuthEvents(pdu, version);
  if (createInAuth) return fail(createInAuth);
  return { ok: true, value: { eventId, roomId, pdu } };
}

/** The first field that does not fit the format, as a sentence; undefined when all fit. */
function fieldProblem(json: JsonObject, version: RoomVersion): string | undefined {
  return (
    stringProblem(json, 'type', true) ??
    senderProblem(json.sender) ??
    roomIdProblem(json, version) ??
    (isInteger(json.origin_server_ts) ? undefined : 'origin_server_ts must be an integer') ??
    (isObject(json.content) ? undefined : 'content must be an object') ??
    stringProblem(json, 'state_key', false) ??
    eventIdListProblem(json.prev_events, 'prev_events', MAX_PREV_EVENTS) ??
    eventIdListProblem(json.auth_events, 'auth_events', MAX_AUTH_EVENTS) ??
    depthProblem(json.depth) ??
    hashesProblem(json.hashes) ??
    signaturesProblem(json.signatures) ??
    optionalProblem(json, 'unsigned', isObject, 'unsigned must be an object') ??
    optionalProblem(json, 'redacts', isEventId, 'redacts must be an event ID')
  );
}

function stringProblem(json: JsonObject, key: string, required: boolean): string | undefined {
  const value = json[key];
  if (value === undefined) return required ? `${key} is missing` : undefined;
  if (typeof value !== 'string') return `${key} must be a string`;
  if (byteLength(value) > MAX_ID_BYTES) return `${key} is longer than ${MAX_ID_BYTES} bytes`;
  return undefined;
}

function senderProblem(sender: JsonValue | undefined): string | undefined {
  if (typeof sender !== 'string') return 'sender must be a string';
  return isValidUserId(sender) ? undefined : 'sender is not a valid user ID';
}

/** v12's create event has no `room_id` (its ID derives from it); every other PDU has one. */
function roomIdProblem(json: JsonObject, version: RoomVersion): string | undefined {
  const roomId = json.room_id;
  const derivedRoom = version.roomIdFromCreateEvent && json.type === 'm.room.create';
  if (roomId === undefined) return derivedRoom ? undefined : 'room_id is missing';
  if (derivedRoom) return 'The create event of this room version has no room_id';
  if (typeof roomId !== 'string' || !roomId.startsWith('!')) return 'room_id must be a room ID';
  if (byteLength(roomId) > MAX_ID_BYTES) return `room_id is longer than ${MAX_ID_BYTES} bytes`;
  return undefined;
}

function eventIdListProblem(
  value: JsonValue | undefined,
  key: string,
  max: number,
): string | undefined {
  if (!Array.isArray(value)) return `${key} must be an array of event IDs`;
  if (value.length > max) return `${key} lists more than ${max} events`;
  return value.every(isEventId) ? undefined : `${key} must be an array of event IDs`;
}

function depthProblem(depth: JsonValue | undefined): string | undefined {
  if (!isInteger(depth)) return 'depth must be an integer';
  if (depth < 0) return 'depth must not be negative';
  return depth > MAX_DEPTH ? 'depth is too large' : undefined;
}

function hashesProblem(hashes: JsonValue | undefined): string | undefined {
  if (!isObject(hashes) || typeof hashes.sha256 !== 'string') {
    return 'hashes.sha256 must be a string';
  }
  return undefined;
}

function signaturesProblem(signatures: JsonValue | undefined): string | undefined {
  const wellFormed =
    isObject(signatures) &&
    Object.values(signatures).every(
      (byServer) =>
        isObject(byServer) && Object.values(byServer).every((sig) => typeof sig === 'string'),
    );
  return wellFormed ? undefined : 'signatures must map server names to key IDs to strings';
}

function optionalProblem(
  json: JsonObject,
  key: string,
  valid: (value: JsonValue) => boolean,
  problem: string,
): string | undefined {
  const value = json[key];
  return value === undefined || valid(value) ? undefined : problem;
}

/** v12 (as Synapse): the room ID names the create event, which auth_events must not list. */
function createEventListedInAuthEvents(pdu: Pdu, version: RoomVersion): string | undefined {
  if (!version.roomIdFromCreateEvent || pdu.room_id === undefined) return undefined;
  const createEventId = `$${pdu.room_id.slice(1)}`;
  return pdu.auth_events.includes(createEventId)
    ? 'auth_events must not list the create event in this room version'
    : undefined;
}

function withTrimmedUnsigned(json: JsonObject): JsonObject {
  if (json.unsigned === undefined) return json;
  const kept = UNSIGNED_KEPT[json.type as string] ?? UNSIGNED_KEPT_DEFAULT;
  const unsigned: JsonObject = {};
  for (const key of kept) {
    const value = (json.unsigned as JsonObject)[key];
    if (value !== undefined) unsigned[key] = value;
  }
  return { ...json, unsigned };
}

/** The canonical size, or why the PDU has no canonical form (floats, lone surrogates, depth). */
function encodedSize(pdu: Pdu): number | string {
  try {
    return canonicalJsonBytes(pdu).length;
  } catch (err) {
    return err instanceof Error ? `The PDU is not canonical JSON: ${err.message}` : 'Bad JSON';
  }
}

// --- Step 2: signatures ---

/**
 * The servers whose signatures the event needs (server-server API,
 * "Validating hashes and signatures on received events"; Synapse's
 * `_check_sigs_on_pdu`): the sender's server, except for an invite made from
 * a third-party invite (the auth rules check its `signed` block instead);
 * and for a restricted join, the server of the user who authorised it. The
 * v1–2 event-ID domain rule does not arise: Weft supports v10 and later.
 */
export function requiredSigners(pdu: Pdu): string[] {
  const servers = new Set<string>();
  const sender = serverNameOf(pdu.sender);
  if (sender !== undefined && !isThirdPartyInvite(pdu)) servers.add(sender);
  const authoriser = restrictedJoinAuthoriser(pdu);
  const authoriserServer = authoriser === undefined ? undefined : serverNameOf(authoriser);
  if (authoriserServer !== undefined) servers.add(authoriserServer);
  return [...servers];
}

function isThirdPartyInvite(pdu: Pdu): boolean {
  return (
    pdu.type === 'm.room.member' &&
    pdu.content.membership === 'invite' &&
    pdu.content.third_party_invite !== undefined
  );
}

function restrictedJoinAuthoriser(pdu: Pdu): string | undefined {
  if (pdu.type !== 'm.room.member' || pdu.content.membership !== 'join') return undefined;
  const authoriser = pdu.content.join_authorised_via_users_server;
  return typeof authoriser === 'string' ? authoriser : undefined;
}

/** The ed25519 key IDs a server signed the event with (others cannot be checked and are skipped). */
export function signingKeyIdsOf(pdu: Pdu, serverName: string): string[] {
  const byServer = Object.hasOwn(pdu.signatures, serverName)
    ? pdu.signatures[serverName]
    : undefined;
  return byServer ? Object.keys(byServer).filter((keyId) => keyId.startsWith('ed25519:')) : [];
}

/** A server's public key by key ID, valid at the event's time; undefined: unknown or expired. */
export type KnownKeys = (serverName: string, keyId: string) => string | undefined;

/**
 * Whether every required server signed the event: of its signatures by keys
 * we know (unknown and expired ones are skipped, as the spec says), none is
 * invalid and at least one is valid. Returns the servers whose signature was
 * verified, which the auth rules' restricted-join check reads.
 */
export function checkSignatures(
  pdu: Pdu,
  version: RoomVersion,
  keys: KnownKeys,
): Check<Set<string>> {
  const verified = new Set<string>();
  for (const server of requiredSigners(pdu)) {
    const result = checkServerSignature(pdu, version, server, keys);
    if (result) return fail(result);
    verified.add(server);
  }
  return { ok: true, value: verified };
}

function checkServerSignature(
  pdu: Pdu,
  version: RoomVersion,
  server: string,
  keys: KnownKeys,
): string | undefined {
  const keyIds = signingKeyIdsOf(pdu, server);
  if (keyIds.length === 0) return `The event is not signed by ${server}`;
  let valid = 0;
  for (const keyId of keyIds) {
    const publicKey = keys(server, keyId);
    if (publicKey === undefined) continue;
    if (!verifySafely(pdu, server, keyId, publicKey, version)) {
      return `The signature of ${server} with ${keyId} does not verify`;
    }
    valid += 1;
  }
  return valid > 0 ? undefined : `No known key of ${server} signed the event`;
}

function verifySafely(
  pdu: Pdu,
  server: string,
  keyId: string,
  publicKey: string,
  version: RoomVersion,
): boolean {
  try {
    return verifyEventSignature(pdu, server, keyId, publicKey, version);
  } catch {
    return false;
  }
}

/**
 * Rule 4.4.1.7's check for the auth rules' verifier: whether any signature in
 * a third-party invite's `signed` object verifies with one of the public keys
 * of the `m.room.third_party_invite` event.
 */
export function signedByAnyKey(signed: JsonObject, publicKeys: readonly string[]): boolean {
  const signatures = signed.signatures;
  if (!isObject(signatures)) return false;
  for (const [server, byServer] of Object.entries(signatures)) {
    if (!isObject(byServer)) continue;
    for (const keyId of Object.keys(byServer)) {
      for (const key of publicKeys) {
        if (verifyJsonQuietly(signed, server, keyId, key)) return true;
      }
    }
  }
  return false;
}

function verifyJsonQuietly(signed: JsonObject, server: string, keyId: string, key: string) {
  try {
    return verifyJsonSignature(signed, server, keyId, key);
  } catch {
    return false;
  }
}

// --- Step 3: the content hash ---

export interface HashCheck {
  /** The event to process further: as received, or redacted when the hash did not match. */
  pdu: Pdu;
  redacted: boolean;
}

/**
 * The content hash against `hashes.sha256` (padded or not). On a mismatch the
 * spec assumes we were given a redacted copy and has us keep the copy we
 * redact ourselves, whatever else the received one carried.
 */
export function checkContentHash(pdu: Pdu, version: RoomVersion): HashCheck {
  const claimed = pdu.hashes.sha256.replace(/=+$/, '');
  if (contentHash(pdu) === claimed) return { pdu, redacted: false };
  return { pdu: redactEvent(pdu, version), redacted: true };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function isEventId(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('$') && byteLength(value) <= MAX_ID_BYTES;
}

function byteLength(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}
