/**
 * The rules of E2EE key material, pure: what a well-formed upload is, when two
 * uploads are "the same", which backed-up room key is better. The server never
 * interprets the keys beyond this: they are the clients' business.
 */
import { canonicalJson } from '../events/canonical-json.js';
import type { JsonObject as JsonValueObject } from '../events/pdu.js';
import { verifyJsonSignature } from '../events/signing.js';
import { errors } from '../protocol/errors.js';
import type { BackupKeyRecord, CrossSigningKeyType, KeyWithId } from '../domain/records.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Signatures: user ID → key ID → signature. */
function isSignatures(value: unknown): boolean {
  return isObject(value) && Object.values(value).every(isStringMap);
}

/**
 * Checks the device keys of a /keys/upload: well-formed, and the caller's own
 * device (a client may not upload keys for another device). Returns the keys
 * as canonical JSON, the form they are stored and compared in.
 */
export function checkDeviceKeys(keys: unknown, userId: string, deviceId: string): string {
  if (!isObject(keys)) throw errors.badJson('device_keys must be an object');
  if (keys.user_id !== userId) throw errors.invalidParam('device_keys.user_id is not yours');
  if (keys.device_id !== deviceId) {
    throw errors.invalidParam('device_keys.device_id is not your device');
  }
  const algorithms = keys.algorithms;
  if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === 'string')) {
    throw errors.badJson('device_keys.algorithms must be an array of strings');
  }
  if (!isStringMap(keys.keys)) throw errors.badJson('device_keys.keys must map key IDs to keys');
  if (!isSignatures(keys.signatures)) throw errors.badJson('device_keys.signatures is malformed');
  return canonicalJson(keys);
}

/**
 * Whether re-uploaded device keys may replace the stored ones. The spec does not
 * say what a server does when an existing device uploads different identity keys;
 * Weft refuses (400 M_INVALID_PARAM): a device's identity keys never change, and
 * replacing them silently would let a stolen token swap a verified device's keys.
 * Other changes (new signatures, algorithms) replace the stored keys.
 */
export function checkSameIdentity(storedJson: string, uploadedJson: string): void {
  const stored = JSON.parse(storedJson) as JsonObject;
  const uploaded = JSON.parse(uploadedJson) as JsonObject;
  if (canonicalJson(stored.keys) !== canonicalJson(uploaded.keys)) {
    throw errors.invalidParam("The device's identity keys cannot change; log in as a new device");
  }
}

/** `{"<algorithm>:<key_id>": key}` (one-time or fallback keys) → one entry per key. */
export function parseKeyMap(value: unknown, field: string): KeyWithId[] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) throw errors.badJson(`${field} must be an object`);
  return Object.entries(value).map(([id, key]) => {
    const colon = id.indexOf(':');
    if (colon <= 0 || colon === id.length - 1) {
      throw errors.badJson(`${field}: key ID ${id} is not <algorithm>:<key_id>`);
    }
    if (typeof key !== 'string' && !isObject(key)) {
      throw errors.badJson(`${field}: key ${id} must be a string or an object`);
    }
    return {
      algorithm: id.slice(0, colon),
      keyId: id.slice(colon + 1),
      keyJson: canonicalJson(key),
    };
  });
}

/** One fallback key per algorithm: the last one given wins, as the spec keeps only the newest. */
export function lastPerAlgorithm(keys: KeyWithId[]): KeyWithId[] {
  return [...new Map(keys.map((key) => [key.algorithm, key])).values()];
}

export const CROSS_SIGNING_TYPES: readonly CrossSigningKeyType[] = [
  'master',
  'self_signing',
  'user_signing',
];

/** A cross-signing key's one public key: `keys` = `{"ed25519:<pub>": "<pub>"}`. */
export function crossSigningPublicKey(key: JsonObject): string {
  const entries = isObject(key.keys) ? Object.entries(key.keys) : [];
  const [entry] = entries;
  if (entries.length !== 1 || !entry) throw errors.invalidParam('A cross-signing key has one key');
  const [keyId, publicKey] = entry;
  if (typeof publicKey !== 'string' || keyId !== `ed25519:${publicKey}`) {
    throw errors.invalidParam('Cross-signing key IDs are ed25519:<public key>');
  }
  return publicKey;
}

/** A cross-signing key of the given usage, owned by the user. */
export function checkCrossSigningKey(
  key: unknown,
  type: CrossSigningKeyType,
  userId: string,
): JsonObject {
  if (!isObject(key)) throw errors.badJson(`The ${type} key must be an object`);
  if (key.user_id !== userId) throw errors.invalidParam(`The ${type} key's user_id is not yours`);
  if (!Array.isArray(key.usage) || !key.usage.includes(type)) {
    throw errors.invalidParam(`The ${type} key's usage must include "${type}"`);
  }
  if (key.signatures !== undefined && !isSignatures(key.signatures)) {
    throw errors.badJson(`The ${type} key's signatures are malformed`);
  }
  crossSigningPublicKey(key);
  return key;
}

/** Whether `object` carries a valid signature by the user's ed25519 key (`ed25519:<id>`). */
export function isSignedBy(
  object: JsonObject,
  userId: string,
  keyId: string,
  publicKey: string,
): boolean {
  // Parsed request JSON: only JSON values inside.
  return verifyJsonSignature(object as JsonValueObject, userId, keyId, publicKey);
}

/** Two keys are the same upload when they match with the signatures added since left out. */
export function sameKeyContent(a: JsonObject, b: JsonObject): boolean {
  const strip = (key: JsonObject) => {
    const copy = { ...key };
    delete copy.signatures;
    delete copy.unsigned;
    return canonicalJson(copy);
  };
  return strip(a) === strip(b);
}

/**
 * The spec's rule for a session already in the backup: the better key stays.
 * Verified beats unverified, then the lower first_message_index, then the
 * lower forwarded_count. A key that is not better does not replace the stored one.
 */
export function isBetterBackupKey(candidate: BackupKeyRecord, stored: BackupKeyRecord): boolean {
  if (candidate.isVerified !== stored.isVerified) return candidate.isVerified;
  if (candidate.firstMessageIndex !== stored.firstMessageIndex) {
    return candidate.firstMessageIndex < stored.firstMessageIndex;
  }
  return candidate.forwardedCount < stored.forwardedCount;
}

/** The size of a JSON value on the wire, in UTF-8 bytes. */
export function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** A signature stored apart from the key it signs (storage's StoredSignature). */
export interface KeySignature {
  targetKeyId: string;
  signerUserId: string;
  signingKeyId: string;
  signature: string;
}

/** The key's stored signatures merged into its own `signatures`. */
export function withSignatures(
  key: JsonObject,
  signatures: readonly KeySignature[],
  targetKeyId: string,
): JsonObject {
  const merged: Record<string, Record<string, string>> = {};
  for (const [userId, byKey] of Object.entries(isObject(key.signatures) ? key.signatures : {})) {
    merged[userId] = { ...(byKey as Record<string, string>) };
  }
  for (const s of signatures) {
    if (s.targetKeyId !== targetKeyId) continue;
    (merged[s.signerUserId] ??= {})[s.signingKeyId] = s.signature;
  }
  return { ...key, signatures: merged };
}
