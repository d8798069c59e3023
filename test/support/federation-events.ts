/**
 * Signed PDUs as another server would send them, for the federation receipt
 * tests: a room made by `remote.example` whose events are hashed and signed
 * with a known key, built one on another (prev_events, auth_events, depth).
 */
import { eventIdFor } from '../../src/events/hashing.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import type { RoomVersion } from '../../src/events/room-versions.js';
import { hashAndSignEvent, signingKeyFromSeed } from '../../src/events/signing.js';
import type { SigningKey } from '../../src/crypto/server-keys.js';

export const REMOTE = 'remote.example';
export const LOCAL = 'local.example';
export const REMOTE_KEY = signingKeyFromSeed(
  'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1',
  'ed25519:r1',
);
export const LOCAL_KEY = signingKeyFromSeed(
  'bG9jYWwtc2VydmVyLXRlc3Qta2V5LXNlZWQtMzJieXQ',
  'ed25519:l1',
);

export interface BuiltEvent {
  eventId: string;
  pdu: Pdu;
}

export interface EventFields {
  type: string;
  sender: string;
  stateKey?: string;
  content?: JsonObject;
  prev: BuiltEvent[];
  auth: BuiltEvent[];
  ts?: number;
}

/** Builds, hashes and signs an event with the sender's server's key (or `key`). */
export function buildEvent(
  version: RoomVersion,
  roomId: string | undefined,
  fields: EventFields,
  key: SigningKey = fields.sender.endsWith(`:${LOCAL}`) ? LOCAL_KEY : REMOTE_KEY,
  server = fields.sender.slice(fields.sender.indexOf(':') + 1),
): BuiltEvent {
  const unsigned: Pdu = {
    type: fields.type,
    ...(roomId === undefined ? {} : { room_id: roomId }),
    sender: fields.sender,
    origin_server_ts: fields.ts ?? 1_700_000_000_000,
    content: fields.content ?? {},
    ...(fields.stateKey === undefined ? {} : { state_key: fields.stateKey }),
    prev_events: fields.prev.map((e) => e.eventId),
    auth_events: fields.auth.map((e) => e.eventId),
    depth: Math.max(0, ...fields.prev.map((e) => e.pdu.depth)) + 1,
    hashes: { sha256: '' },
    signatures: {},
  };
  const pdu = hashAndSignEvent(unsigned, server, key, version) as Pdu;
  return { eventId: eventIdFor(pdu, version), pdu };
}

/** The public key of a server, by key ID, as a key service would answer. */
export function knownKey(server: string, keyId: string): string | undefined {
  if (server === REMOTE && keyId === REMOTE_KEY.keyId) return REMOTE_KEY.publicKeyBase64;
  if (server === LOCAL && keyId === LOCAL_KEY.keyId) return LOCAL_KEY.publicKeyBase64;
  return undefined;
}
