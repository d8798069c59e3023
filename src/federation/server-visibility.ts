/**
 * Which room events another server may be given (server-server API: the
 * retrieval endpoints answer only servers in the room; client-server API,
 * "Room History Visibility" applied to a server as Synapse does it): judged
 * by the room state after each event, `world_readable` and `shared` history
 * is open to any server in the room; `invited` needs one of that server's
 * users invited or joined then, `joined` one joined then. An event the server
 * may not see is served redacted, never left out, so the DAG stays whole.
 * Pure: the caller reads the state.
 */
import { historyVisibilityOf, membershipOf } from '../events/history-visibility.js';

/** The parts of the state after an event that the rule reads. */
export interface ServerVisibilityState {
  /** The content of `m.room.history_visibility`, if the room has one then. */
  historyVisibilityContent: unknown;
  /** The memberships (`content.membership`) then of the server's own users only. */
  serverMemberships: readonly unknown[];
}

/** Whether the server may see an event, given the state after it. */
export function isVisibleToServer(state: ServerVisibilityState): boolean {
  const visibility = historyVisibilityOf(state.historyVisibilityContent);
  if (visibility === 'world_readable' || visibility === 'shared') return true;
  return state.serverMemberships.some((content) => {
    const membership = membershipOf(content);
    return membership === 'join' || (visibility === 'invited' && membership === 'invite');
  });
}

/** The server part of a user ID (everything after the first `:`). */
export function serverOfUser(userId: string): string | undefined {
  const colon = userId.indexOf(':');
  return colon < 0 ? undefined : userId.slice(colon + 1);
}

/** Whether a member event's state key is one of that server's users. */
export function isUserOfServer(userId: string, serverName: string): boolean {
  return serverOfUser(userId) === serverName;
}
