/**
 * The rules of federation keys (server-server API, "Retrieving server keys";
 * room versions' signing requirements), pure: checking a server's key
 * response, how long each of its keys may be trusted, our own key document,
 * and the notary query's body.
 */
import type { SigningKey } from '../crypto/server-keys.js';
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { signJson, verifyJsonSignature } from '../events/signing.js';
import { MatrixError, errors } from '../protocol/errors.js';

/**
 * "Servers MUST use the lesser of valid_until_ts and 7 days into the future":
 * a key is never trusted longer than this after we received it, whatever its
 * server said (an attacker holding a stolen key cannot make it last for years).
 */
export const MAX_KEY_TRUST_MS = 7 * 24 * 60 * 60 * 1000;

/** More keys than any server has; beyond it a response is refused rather than checked. */
const MAX_KEYS_PER_RESPONSE = 64;

/** A verify key of a checked response. */
export interface ResponseKey {
  keyId: string;
  publicKey: string;
  /** Set for a key of `old_verify_keys`. */
  expiredTs: number | null;
}

/** A key response that passed `checkKeyResponse`. */
export interface CheckedKeyResponse {
  serverName: string;
  validUntilTs: number;
  keys: ResponseKey[];
  response: JsonObject;
}

export type KeyResponseCheck =
  { ok: true; checked: CheckedKeyResponse } | { ok: false; reason: string };

/**
 * Checks a `/_matrix/key/v2/server` response (or one entry of a notary's
 * `server_keys`) for `serverName`: the name matches, `valid_until_ts` is
 * there, and every ed25519 key in `verify_keys` has signed it (keys of other
 * algorithms cannot be checked here and are left out). At least one such key
 * is needed. Old keys are taken on the strength of those signatures.
 */
export function checkKeyResponse(response: unknown, serverName: string): KeyResponseCheck {
  if (!isObject(response)) return refused('the response is not a JSON object');
  if (response.server_name !== serverName) {
    return refused(`server_name is ${JSON.stringify(response.server_name)}, not ${serverName}`);
  }
  const validUntilTs = response.valid_until_ts;
  if (!isTimestamp(validUntilTs)) return refused('valid_until_ts is missing or not an integer');
  const current = readKeys(response.verify_keys, false);
  const old = readKeys(response.old_verify_keys ?? {}, true);
  if (typeof current === 'string') return refused(`verify_keys: ${current}`);
  if (typeof old === 'string') return refused(`old_verify_keys: ${old}`);
  if (current.length === 0) return refused('no ed25519 key in verify_keys');
  if (current.length + old.length > MAX_KEYS_PER_RESPONSE) return refused('too many keys');
  for (const key of current) {
    if (!signedBy(response, serverName, key.keyId, key.publicKey)) {
      return refused(`not signed by its verify key ${key.keyId}`);
    }
  }
  // A key in both lists is current: its old entry is left out.
  const currentIds = new Set(current.map((key) => key.keyId));
  const keys = [...current, ...old.filter((key) => !currentIds.has(key.keyId))];
  return { ok: true, checked: { serverName, validUntilTs, keys, response } };
}

function refused(reason: string): KeyResponseCheck {
  return { ok: false, reason };
}

/** The ed25519 keys of `verify_keys` / `old_verify_keys`, or what is wrong with them. */
function readKeys(value: unknown, old: boolean): ResponseKey[] | string {
  if (!isObject(value)) return 'not an object';
  const keys: ResponseKey[] = [];
  for (const [keyId, entry] of Object.entries(value)) {
    if (!isObject(entry) || typeof entry.key !== 'string') return `${keyId} has no key`;
    const expiredTs = old ? entry.expired_ts : null;
    if (old && !isTimestamp(expiredTs)) return `${keyId} has no expired_ts`;
    if (!keyId.startsWith('ed25519:')) continue;
    keys.push({ keyId, publicKey: entry.key, expiredTs: expiredTs as number | null });
  }
  return keys;
}

/** A signature check that treats an object without a canonical form as unsigned. */
function signedBy(object: JsonObject, serverName: string, keyId: string, key: string): boolean {
  try {
    return verifyJsonSignature(object, serverName, keyId, key);
  } catch (err) {
    if (err instanceof MatrixError) return false;
    throw err;
  }
}

/**
 * Whether a notary's answer carries its signature by one of the keys the
 * config names for it; a notary configured without keys is trusted for its
 * TLS certificate alone, as Synapse does.
 */
export function notarySigned(
  response: JsonObject,
  notary: string,
  verifyKeys: Readonly<Record<string, string>> | undefined,
): boolean {
  if (verifyKeys === undefined) return true;
  return Object.entries(verifyKeys).some(([keyId, key]) => signedBy(response, notary, keyId, key));
}

/** How long a stored key counts: the record's parts `keyTrustedUntil` reads. */
export interface KeyValidity {
  validUntilTs: number;
  expiredTs: number | null;
  fetchedTs: number;
}

/**
 * Until when a key may verify signatures. A current key: its response's
 * valid_until_ts, capped at 7 days after we received it. An old key: its
 * expired_ts. This is the rule of room versions 5 and later (1–4 ignored
 * valid_until_ts); Weft serves 10 and later only, so it always applies.
 */
export function keyTrustedUntil(key: KeyValidity): number {
  if (key.expiredTs !== null) return key.expiredTs;
  return Math.min(key.validUntilTs, key.fetchedTs + MAX_KEY_TRUST_MS);
}

/** Whether the key may verify something signed at `atTs`. */
export function keyValidAt(key: KeyValidity, atTs: number): boolean {
  return atTs <= keyTrustedUntil(key);
}

/**
 * Whether a notary may serve a stored key as it is for a query asking
 * `minimumValidUntilTs`: its response says it is valid that long. An old key
 * is as good as it will get (a fresh response would not make it valid longer).
 */
export function freshForNotary(key: KeyValidity, minimumValidUntilTs: number): boolean {
  return key.expiredTs !== null || key.validUntilTs >= minimumValidUntilTs;
}

export interface OwnKeyDocumentParts {
  serverName: string;
  signingKey: SigningKey;
  oldKeys: readonly { key_id: string; key: string; expired_ts: number }[];
  validUntilTs: number;
}

/** Our `/_matrix/key/v2/server` answer, signed by our key. */
export function ownKeyDocument(parts: OwnKeyDocumentParts): JsonObject {
  const oldVerifyKeys: JsonObject = {};
  for (const old of parts.oldKeys) {
    if (old.key_id === parts.signingKey.keyId) continue;
    oldVerifyKeys[old.key_id] = { key: old.key, expired_ts: old.expired_ts };
  }
  const document: JsonObject = {
    server_name: parts.serverName,
    valid_until_ts: parts.validUntilTs,
    verify_keys: { [parts.signingKey.keyId]: { key: parts.signingKey.publicKeyBase64 } },
    old_verify_keys: oldVerifyKeys,
  };
  return signJson(document, parts.serverName, parts.signingKey) as JsonObject;
}

/**
 * Whether our cached document should be made again: less than half of its
 * validity is left (as Synapse does), so a server caching it for half its
 * lifetime, as the spec asks notaries to, never holds an expired one.
 */
export function ownDocumentDue(validUntilTs: number, periodMs: number, now: number): boolean {
  return now + periodMs / 2 > validUntilTs;
}

/** One server of a notary query: the key IDs asked (none: all) and how long they must be valid. */
export interface NotaryQuery {
  serverName: string;
  keyIds: string[];
  minimumValidUntilTs: number;
}

/** More servers than one query needs; each may cost a fetch. */
export const MAX_NOTARY_QUERY_SERVERS = 100;

/**
 * The body of `POST /_matrix/key/v2/query`. A key ID's missing
 * `minimum_valid_until_ts` means now (the spec's "MUST use the current
 * time"); a server's is the largest its key IDs ask for.
 */
export function parseNotaryQueryBody(body: unknown, now: number): NotaryQuery[] {
  if (!isObject(body)) throw errors.notJson('The body must be a JSON object');
  const serverKeys = body.server_keys;
  if (serverKeys === undefined) throw errors.missingParam('server_keys');
  if (!isObject(serverKeys)) throw errors.badJson('server_keys must be an object');
  const servers = Object.entries(serverKeys);
  if (servers.length > MAX_NOTARY_QUERY_SERVERS) {
    throw errors.invalidParam(`At most ${MAX_NOTARY_QUERY_SERVERS} servers per query`);
  }
  return servers.map(([serverName, criteria]) => parseServerCriteria(serverName, criteria, now));
}

function parseServerCriteria(serverName: string, criteria: JsonValue, now: number): NotaryQuery {
  if (!isObject(criteria)) throw errors.badJson(`server_keys.${serverName} must be an object`);
  const keyIds = Object.keys(criteria);
  // No key ID, or one without a minimum: now counts among the minimums.
  const minimums = keyIds.map((keyId) => minimumOf(criteria[keyId], `${serverName}.${keyId}`));
  const given = minimums.filter((minimum): minimum is number => minimum !== undefined);
  if (given.length < keyIds.length || keyIds.length === 0) given.push(now);
  return { serverName, keyIds, minimumValidUntilTs: Math.max(...given) };
}

function minimumOf(criterion: JsonValue | undefined, where: string): number | undefined {
  if (!isObject(criterion)) throw errors.badJson(`server_keys.${where} must be an object`);
  const minimum = criterion.minimum_valid_until_ts;
  if (minimum === undefined) return undefined;
  if (!isTimestamp(minimum)) throw errors.badJson('minimum_valid_until_ts must be an integer');
  return minimum;
}

/** `minimum_valid_until_ts` of `GET /_matrix/key/v2/query/{serverName}` (absent: now). */
export function parseMinimumValidUntil(value: string | undefined, now: number): number {
  if (value === undefined) return now;
  if (!/^-?\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw errors.invalidParam('minimum_valid_until_ts must be an integer');
  }
  return Number(value);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTimestamp(value: unknown): value is number {
  return Number.isSafeInteger(value);
}
