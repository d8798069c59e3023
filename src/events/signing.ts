/**
 * ed25519 signatures on JSON (spec appendices, "Signing JSON" and "Checking
 * for a signature") and on events, which are signed in their redacted form
 * (server-server API, "Adding hashes and signatures to outgoing events").
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { SigningKey } from '../crypto/server-keys.js';
import { errors } from '../protocol/errors.js';
import type { RoomVersion } from './room-versions.js';
import { canonicalJsonBytes, canonicalJsonLengthWith } from './canonical-json.js';
import { contentHashInput, contentHashOf, sha256, unpaddedBase64, withoutKeys } from './hashing.js';
import type { JsonObject, Pdu } from './pdu.js';
import { redactEvent } from './redaction.js';
import { LruCache } from '../util/lru-cache.js';

export type Signatures = { [serverName: string]: { [keyId: string]: string } };

type Signable = Pdu | JsonObject;

/** `T` with its `signatures` replaced by the merged map. */
export type Signed<T> = Omit<T, 'signatures'> & { signatures: Signatures };

/** DER prefixes that wrap a raw 32-byte ed25519 seed (PKCS#8) or public key (SPKI). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** A signing key from its base64 seed, as the spec's test vectors and key files give it. */
export function signingKeyFromSeed(seedBase64: string, keyId: string): SigningKey {
  const seed = Buffer.from(seedBase64, 'base64');
  if (seed.length !== ED25519_KEY_BYTES) throw new Error('An ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const rawPublic = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    keyId,
    privateKey,
    publicKeyBase64: unpaddedBase64(rawPublic.subarray(ED25519_SPKI_PREFIX.length)),
  };
}

/**
 * A copy of `object` with this server's signature added under
 * `signatures[serverName][keyId]`. The signature covers the canonical JSON of
 * the object without `signatures` and `unsigned`; existing signatures stay.
 */
export function signJson<T extends Signable>(
  object: T,
  serverName: string,
  signingKey: SigningKey,
): Signed<T> {
  const signed = canonicalJsonBytes(withoutKeys(object, ['signatures', 'unsigned']));
  return withSignature(object, serverName, signingKey, signed);
}

/** A copy of `object` with this server's signature over `signedBytes` merged into `signatures`. */
function withSignature<T extends Signable>(
  object: T,
  serverName: string,
  signingKey: SigningKey,
  signedBytes: Buffer,
): Signed<T> {
  const signature = unpaddedBase64(sign(null, signedBytes, signingKey.privateKey));
  const signatures = existingSignatures(object);
  return {
    ...object,
    signatures: {
      ...signatures,
      [serverName]: { ...signatures[serverName], [signingKey.keyId]: signature },
    },
  };
}

function existingSignatures(object: Signable): Signatures {
  const signatures = (object as JsonObject).signatures;
  if (signatures === undefined) return {};
  if (typeof signatures !== 'object' || signatures === null || Array.isArray(signatures)) {
    throw errors.badJson('`signatures` must be an object');
  }
  return signatures as Signatures;
}

/**
 * Whether `object` carries a valid signature by `serverName` with the key
 * `keyId` ("Checking for a signature"). Any missing, malformed or unsupported
 * piece means "not signed" (false); only an object that has no canonical JSON
 * form throws (M_BAD_JSON), since it is malformed rather than unsigned.
 */
export function verifyJsonSignature(
  object: Signable,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): boolean {
  if (!keyId.startsWith('ed25519:')) return false;
  const signature = decodeBase64(signatureOf(object, serverName, keyId));
  const publicKey = ed25519PublicKey(publicKeyBase64);
  if (signature?.length !== ED25519_SIGNATURE_BYTES || !publicKey) return false;
  const signed = canonicalJsonBytes(withoutKeys(object, ['signatures', 'unsigned']));
  return verify(null, signed, publicKey, signature);
}

function signatureOf(object: Signable, serverName: string, keyId: string): unknown {
  const signatures = (object as JsonObject).signatures;
  if (!isObject(signatures) || !Object.hasOwn(signatures, serverName)) return undefined;
  const byServer = signatures[serverName];
  return isObject(byServer) && Object.hasOwn(byServer, keyId) ? byServer[keyId] : undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Strict standard base64, padded or not (the spec asks decoders to accept
 * both). Buffer.from skips bad characters silently, so the result is checked
 * by encoding it back.
 */
function decodeBase64(value: unknown): Buffer | undefined {
  if (typeof value !== 'string') return undefined;
  const unpadded = value.replace(/={1,2}$/, '');
  const bytes = Buffer.from(unpadded, 'base64');
  return unpaddedBase64(bytes) === unpadded ? bytes : undefined;
}

/**
 * Public keys by their base64, made once: a KeyObject costs about as much to
 * build as the verification it serves, and every PDU of a transaction is
 * checked against the same few server keys. Invalid keys are not kept.
 */
const publicKeys = new LruCache<string, KeyObject>(1_000);

function ed25519PublicKey(publicKeyBase64: string): KeyObject | undefined {
  const cached = publicKeys.get(publicKeyBase64);
  if (cached) return cached;
  const raw = decodeBase64(publicKeyBase64);
  if (raw?.length !== ED25519_KEY_BYTES) return undefined;
  try {
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
      format: 'der',
      type: 'spki',
    });
    publicKeys.set(publicKeyBase64, key);
    return key;
  } catch {
    return undefined;
  }
}

/**
 * Signs an event that already has its content hash: the signature covers the
 * redacted event (so it survives redaction) and is copied back to the full one.
 */
export function signEvent<T extends Signable>(
  event: T,
  serverName: string,
  signingKey: SigningKey,
  version: RoomVersion,
): Signed<T> {
  const signedRedacted = signJson(redactEvent(event, version), serverName, signingKey);
  return { ...event, signatures: signedRedacted.signatures };
}

/** The whole outgoing-event step: set `hashes.sha256`, then sign the redacted form. */
export function hashAndSignEvent<T extends Signable>(
  event: T,
  serverName: string,
  signingKey: SigningKey,
  version: RoomVersion,
): Signed<T> {
  return sealEvent(event, serverName, signingKey, version).pdu;
}

/** An outgoing event, hashed and signed, with what naming and size-checking it needs. */
export interface SealedEvent<T> {
  pdu: Signed<T>;
  /** What `referenceHash(pdu, version)` returns: the source of its event ID. */
  referenceHash: Buffer;
  /** The size of `pdu` as canonical JSON, which the PDU size limit applies to. */
  byteLength: number;
}

/**
 * `hashAndSignEvent` plus the reference hash and size, encoding each form
 * once: the full event (for the content hash, and the size) and the redacted
 * one. The signature and the reference hash cover the same bytes: the
 * redacted event without `signatures` (redaction already drops `unsigned`
 * and `age_ts`).
 */
export function sealEvent<T extends Signable>(
  event: T,
  serverName: string,
  signingKey: SigningKey,
  version: RoomVersion,
): SealedEvent<T> {
  const hashInput = contentHashInput(event);
  const hashed = { ...event, hashes: { sha256: contentHashOf(hashInput) } };
  const redacted = canonicalJsonBytes(
    withoutKeys(redactEvent(hashed, version), ['signatures', 'unsigned']),
  );
  const pdu = withSignature(hashed, serverName, signingKey, redacted);
  return {
    pdu,
    referenceHash: sha256(redacted),
    byteLength: canonicalJsonLengthWith(hashInput, membersNotHashed(pdu)),
  };
}

/** The members the content hash leaves out, which the PDU's size still counts. */
function membersNotHashed(pdu: object): Record<string, unknown> {
  const members: Record<string, unknown> = {};
  for (const key of ['hashes', 'signatures', 'unsigned']) {
    if (Object.hasOwn(pdu, key)) members[key] = (pdu as Record<string, unknown>)[key];
  }
  return members;
}

/** Checks a server's signature on an event, whether we hold the full or a redacted copy. */
export function verifyEventSignature(
  event: Signable,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
  version: RoomVersion,
): boolean {
  return verifyJsonSignature(redactEvent(event, version), serverName, keyId, publicKeyBase64);
}
