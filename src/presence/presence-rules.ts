/**
 * The rules of presence, pure: the states, how idle and silent users fall to
 * `unavailable` and `offline`, and the `m.presence` content clients see.
 */
import { errors } from '../protocol/errors.js';

export const PRESENCE_STATES = ['online', 'unavailable', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

/** Active within this long → `currently_active` (Synapse's LAST_ACTIVE_GRANULARITY). */
export const CURRENTLY_ACTIVE_MS = 60_000;
/** `status_msg` is bounded so that no client can bloat storage. */
export const MAX_STATUS_MSG_LENGTH = 1024;

export interface PresenceTimeouts {
  /** Online without activity this long → unavailable. */
  idle_timeout_ms: number;
  /** Neither syncing nor active this long → offline. */
  offline_timeout_ms: number;
}

/** What the server knows of a user it is tracking. */
export interface LivePresence {
  state: PresenceState;
  statusMsg?: string;
  lastActiveTs: number;
  /** Last sync or activity. */
  lastSeenTs: number;
  /** Syncs in progress: a long-polling user is not silent. */
  syncing: number;
}

/**
 * Whether sending an event of this type is activity that makes its sender
 * online. Member events are not: a join, a leave or an invite says nothing of
 * being at a client now, and the server itself sends them on a user's behalf
 * (a profile change propagated into every room). Synapse counts only
 * `m.room.message`; Weft counts everything else a user sends (encrypted
 * messages, reactions, state).
 */
export function countsAsActivity(eventType: string): boolean {
  return eventType !== 'm.room.member';
}

export function parsePresenceState(value: unknown): PresenceState {
  if (typeof value !== 'string' || !(PRESENCE_STATES as readonly string[]).includes(value)) {
    throw errors.invalidParam('presence must be online, unavailable or offline');
  }
  return value as PresenceState;
}

/** The state the timeouts lead to at `now` (unchanged when none ran out). */
export function stateAfterTimeouts(
  live: LivePresence,
  now: number,
  timeouts: PresenceTimeouts,
): PresenceState {
  const silent = live.syncing === 0 && now - live.lastSeenTs >= timeouts.offline_timeout_ms;
  if (live.state !== 'offline' && silent) return 'offline';
  if (live.state === 'online' && now - live.lastActiveTs >= timeouts.idle_timeout_ms) {
    return 'unavailable';
  }
  return live.state;
}

export interface PresenceView {
  state: string;
  statusMsg?: string;
  lastActiveTs: number;
  displayName?: string;
  avatarUrl?: string;
}

/** The content of `m.presence` and the body of GET /presence/{userId}/status (without profile there). */
export function presenceContent(view: PresenceView, now: number): Record<string, unknown> {
  const ago = Math.max(0, now - view.lastActiveTs);
  return {
    presence: view.state,
    last_active_ago: ago,
    currently_active: view.state === 'online' && ago < CURRENTLY_ACTIVE_MS,
    ...(view.statusMsg === undefined ? {} : { status_msg: view.statusMsg }),
    ...(view.displayName === undefined ? {} : { displayname: view.displayName }),
    ...(view.avatarUrl === undefined ? {} : { avatar_url: view.avatarUrl }),
  };
}
