/**
 * What account moderation means for each request, by the route it matched:
 * locked accounts (the spec's "Account locking"), suspended ones ("Account
 * suspension"), shadow bans (Synapse's) and which requests are message sends
 * (the message rate limit). Routes are the router's URL patterns, e.g.
 * `/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId`. Pure.
 */
import { MatrixError } from '../protocol/errors.js';

/** A route's path below its API prefix and version: `/rooms/:roomId/send/:eventType/:txnId`. */
export function routePath(url: string): string {
  const match = /^\/_matrix\/(?:client|media)\/(?:v\d+|r0|unstable(?:\/[^/]+)?)(\/.*)$/.exec(url);
  return match ? match[1]! : url;
}

/**
 * `GET /rooms/:roomId/...`: the route's method and path. Routes are few and fixed, and the gate
 * asks on every request, so each key is worked out once.
 */
const routeKeys = new Map<string, string>();
function key(method: string, url: string): string {
  const full = `${method} ${url}`;
  let routeKey = routeKeys.get(full);
  if (routeKey === undefined) {
    routeKey = `${method} ${routePath(url)}`;
    routeKeys.set(full, routeKey);
  }
  return routeKey;
}

/** The spec: a locked user may still log out (the token goes, the lock stays). */
const LOCKED_ALLOWED = new Set(['POST /logout', 'POST /logout/all']);

export function lockAllows(method: string, url: string): boolean {
  return LOCKED_ALLOWED.has(key(method, url));
}

export const userLocked = () =>
  new MatrixError(401, 'M_USER_LOCKED', 'This account has been locked', { soft_logout: true });

export const userSuspended = () =>
  new MatrixError(403, 'M_USER_SUSPENDED', 'This account has been suspended');

const SEND = 'PUT /rooms/:roomId/send/:eventType/:txnId';
const STATE = [
  'PUT /rooms/:roomId/state/:eventType',
  'PUT /rooms/:roomId/state/:eventType/:stateKey',
];
const REDACT = 'PUT /rooms/:roomId/redact/:eventId/:txnId';
const INVITE = 'POST /rooms/:roomId/invite';
/** Every request that makes a room event other than a member event. */
const EVENT_SENDS = new Set([SEND, ...STATE, REDACT]);

/**
 * What a suspended user may not do: the spec's list (create rooms, send
 * events other than redactions, join, knock or invite, change their profile,
 * upload media), and, as Synapse, every other membership change but leaving
 * (kick, ban, unban) and room upgrades and aliases. Reading, sync, leaving,
 * redacting, keys and logging out stay allowed.
 */
const SUSPENDED_REFUSED = new Set([
  'POST /createRoom',
  'POST /rooms/:roomId/upgrade',
  ...STATE,
  'POST /rooms/:roomId/join',
  'POST /join/:roomId',
  'POST /knock/:roomId',
  INVITE,
  'POST /rooms/:roomId/kick',
  'POST /rooms/:roomId/ban',
  'POST /rooms/:roomId/unban',
  'PUT /profile/:userId/:keyName',
  'DELETE /profile/:userId/:keyName',
  'PUT /directory/room/:roomAlias',
  'POST /upload',
  'PUT /upload/:serverName/:mediaId',
  'POST /create',
]);

/** Does suspension refuse this request? Sends are refused but for redactions (the spec allows those). */
export function suspensionRefuses(method: string, url: string, eventType?: string): boolean {
  const route = key(method, url);
  if (route === SEND) return eventType !== 'm.room.redaction';
  return SUSPENDED_REFUSED.has(route);
}

/** What a shadow-banned user's request is answered with instead of being done. */
export type ShadowBanAnswer = 'fake-event' | 'empty';

/**
 * As Synapse: a shadow-banned user's events other than member events
 * (messages, state, redactions) are answered with a made-up event ID and
 * neither stored nor sent, invites are answered and dropped; joins and leaves
 * go through, so the user does not notice.
 */
export function shadowBanAnswer(method: string, url: string): ShadowBanAnswer | undefined {
  const route = key(method, url);
  if (EVENT_SENDS.has(route)) return 'fake-event';
  if (route === INVITE) return 'empty';
  return undefined;
}

/** Requests the message rate limit counts: every non-member event (Synapse's rc_message). */
export function isMessageSend(method: string, url: string): boolean {
  return EVENT_SENDS.has(key(method, url));
}
