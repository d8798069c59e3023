/** E2EE keys: /keys/upload, /keys/query, /keys/claim, /keys/changes, cross-signing uploads. */
import { errors } from '../../protocol/errors.js';
import { objectBody, queryString, type JsonObject } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { parseSyncToken } from '../../sync/stream-token.js';
import { reauthenticate } from './reauth.js';
import type { ClientApiServices } from './services.js';
import { DEFAULT_REMOTE_TIMEOUT_MS } from '../../e2ee/keys-service.js';

const MAX_REMOTE_TIMEOUT_MS = 60_000;

export function registerKeyRoutes(router: Router, services: ClientApiServices): void {
  const { keys, crossSigning } = services.e2ee;

  router.client('POST', '/keys/upload', { auth: 'required', guest: true }, async (request) => {
    const body = objectBody(request.body);
    const counts = await keys.upload(ownerOf(request), {
      deviceKeys: body.device_keys,
      oneTimeKeys: body.one_time_keys,
      fallbackKeys: body.fallback_keys,
    });
    return { one_time_key_counts: counts };
  });

  router.client('POST', '/keys/query', { auth: 'required', guest: true }, async (request) => {
    const body = objectBody(request.body);
    const wanted = userMap(
      body,
      'device_keys',
      (value) => Array.isArray(value) && value.every((id) => typeof id === 'string'),
    ) as Record<string, string[]>;
    return keys.query(ownerOf(request).userId, wanted, remoteTimeout(body));
  });

  router.client('POST', '/keys/claim', { auth: 'required', guest: true }, async (request) => {
    const body = objectBody(request.body);
    const wanted = userMap(
      body,
      'one_time_keys',
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.values(value).every((algorithm) => typeof algorithm === 'string'),
    ) as Record<string, Record<string, string>>;
    return keys.claim(wanted, remoteTimeout(body));
  });

  router.client('GET', '/keys/changes', { auth: 'required', guest: true }, async (request) => {
    const from = queryString(request.query, 'from');
    const to = queryString(request.query, 'to');
    if (from === undefined) throw errors.missingParam('from');
    if (to === undefined) throw errors.missingParam('to');
    return keys.changes(ownerOf(request).userId, parseSyncToken(from), parseSyncToken(to));
  });

  router.client('POST', '/keys/device_signing/upload', { auth: 'required' }, async (request) => {
    const body = objectBody(request.body);
    await crossSigning.upload(ownerOf(request).userId, body, async () => {
      await reauthenticate(services, request, body.auth, 'POST /keys/device_signing/upload');
    });
    return {};
  });

  router.client('POST', '/keys/signatures/upload', { auth: 'required' }, async (request) => {
    const failures = await crossSigning.uploadSignatures(
      ownerOf(request).userId,
      objectBody(request.body, { allowEmpty: true }),
    );
    return { failures };
  });
}

/**
 * The body's `timeout`: how long other servers are waited for, in ms (the
 * spec's default, 10 s). Capped at a minute, so that no client holds a request
 * to another server open for long (Synapse takes any value).
 */
function remoteTimeout(body: JsonObject): number {
  const value = body.timeout;
  if (value === undefined || value === null) return DEFAULT_REMOTE_TIMEOUT_MS;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw errors.invalidParam('timeout must be a non-negative integer');
  }
  return Math.min(value as number, MAX_REMOTE_TIMEOUT_MS);
}

/** A required `{userId: value}` field whose values pass the check. */
function userMap(body: JsonObject, field: string, valid: (value: unknown) => boolean): JsonObject {
  const value = body[field];
  if (value === undefined || value === null) throw errors.missingParam(field);
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw errors.badJson(`${field} must be an object`);
  }
  for (const [userId, entry] of Object.entries(value as JsonObject)) {
    if (!valid(entry)) throw errors.badJson(`${field}.${userId} is malformed`);
  }
  return value as JsonObject;
}
