/**
 * `POST /pushers/set` bodies, pure (client-server API, "Push notifications",
 * api/client-server/pusher.yaml): what is required, what a gateway URL must
 * look like, and a pusher as `GET /pushers` shows it.
 */
import { errors } from '../protocol/errors.js';
import { objectBody, optionalBoolean, optionalString, requiredString } from '../protocol/params.js';
import type { PusherRecord } from '../domain/records.js';

export const GATEWAY_PATH = '/_matrix/push/v1/notify';
/** The spec's limits: pushkey "max length, 512 bytes", app_id "max length, 64 chars". */
const MAX_PUSHKEY_BYTES = 512;
const MAX_APP_ID_LENGTH = 64;

export type PusherRequest =
  | { kind: null; appId: string; pushkey: string }
  | {
      kind: 'http';
      appId: string;
      pushkey: string;
      appDisplayName: string;
      deviceDisplayName: string;
      profileTag?: string;
      lang: string;
      data: Record<string, unknown>;
      append: boolean;
    };

/** What the body asks for; every refusal is a 400 with the spec's error code. */
export function parsePusherRequest(body: unknown, httpAllowedHosts: readonly string[]) {
  const json = objectBody(body);
  if (!Object.hasOwn(json, 'kind')) throw errors.missingParam('kind');
  const appId = requiredString(json, 'app_id');
  const pushkey = requiredString(json, 'pushkey');
  if (appId.length > MAX_APP_ID_LENGTH) throw errors.invalidParam('app_id is too long');
  if (Buffer.byteLength(pushkey) > MAX_PUSHKEY_BYTES) {
    throw errors.invalidParam('pushkey is too long');
  }
  if (json.kind === null) return { kind: null, appId, pushkey } satisfies PusherRequest;
  if (json.kind !== 'http') throw errors.invalidParam('Only http pushers are supported');
  const missing = ['app_display_name', 'device_display_name', 'lang', 'data'].filter(
    (key) => json[key] === undefined || json[key] === null,
  );
  if (missing.length > 0) throw errors.missingParam(missing.join(', '));
  const data = json.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw errors.badJson('data must be an object');
  }
  checkGatewayData(data as Record<string, unknown>, httpAllowedHosts);
  const request: PusherRequest = {
    kind: 'http',
    appId,
    pushkey,
    appDisplayName: requiredString(json, 'app_display_name'),
    deviceDisplayName: requiredString(json, 'device_display_name'),
    lang: requiredString(json, 'lang'),
    data: data as Record<string, unknown>,
    append: optionalBoolean(json, 'append') ?? false,
  };
  const profileTag = optionalString(json, 'profile_tag');
  if (profileTag !== undefined) request.profileTag = profileTag;
  return request;
}

/**
 * `data.url`: the spec requires https and the path /_matrix/push/v1/notify.
 * Plain http is allowed for the configured hosts (loopback by default): our
 * deviation, so a gateway on the same machine needs no certificate.
 * `data.format`: only `event_id_only` changes anything; another string is sent in full.
 */
function checkGatewayData(data: Record<string, unknown>, httpAllowedHosts: readonly string[]) {
  if (data.url === undefined || data.url === null) throw errors.missingParam('data.url');
  if (typeof data.url !== 'string') throw errors.badJson('data.url must be a string');
  if (data.format !== undefined && typeof data.format !== 'string') {
    throw errors.badJson('data.format must be a string');
  }
  let url: URL;
  try {
    url = new URL(data.url);
  } catch {
    throw errors.invalidParam('data.url must be a URL');
  }
  const httpAllowed = url.protocol === 'http:' && httpAllowedHosts.includes(url.hostname);
  if (url.protocol !== 'https:' && !httpAllowed) {
    throw errors.invalidParam('data.url must be an https URL');
  }
  if (url.pathname !== GATEWAY_PATH) {
    throw errors.invalidParam(`data.url must have the path ${GATEWAY_PATH}`);
  }
}

/** A pusher as `GET /pushers` lists it. */
export function pusherJson(pusher: PusherRecord) {
  return {
    pushkey: pusher.pushkey,
    kind: pusher.kind,
    app_id: pusher.appId,
    app_display_name: pusher.appDisplayName,
    device_display_name: pusher.deviceDisplayName,
    ...(pusher.profileTag === undefined ? {} : { profile_tag: pusher.profileTag }),
    lang: pusher.lang,
    data: pusher.data,
  };
}

/** The pusher's data as the gateway receives it: everything but `url`. */
export function gatewayData(pusher: PusherRecord): Record<string, unknown> {
  const data = { ...pusher.data };
  delete data.url;
  return data;
}
