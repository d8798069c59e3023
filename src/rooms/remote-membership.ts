/**
 * Membership changes that go through another server (federation/remote-membership.ts
 * implements it): joining or knocking on a room this server is not in, rejecting an
 * invite to such a room, inviting a user of another server, resolving a remote alias.
 * MembershipService decides when; the handshakes are federation's.
 */
import type { JsonObject } from '../events/pdu.js';

export interface RemoteMembership {
  /** Joins through the first of `servers` that lets us in (make_join, send_join). */
  join(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<void>;
  /** Knocks through the first of `servers` that answers (make_knock, send_knock). */
  knock(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<void>;
  /** Leaves a room we hold no state of (an invite rejected, a knock withdrawn): make_leave, send_leave. */
  leave(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<void>;
  /** Invites a user of another server to a room we are in (v2 invite), then stores the invite. */
  invite(inviter: string, roomId: string, invitee: string, content: JsonObject): Promise<void>;
  /** A remote alias, from its server's directory (`/v1/query/directory`). */
  resolveAlias(alias: string): Promise<{ room_id: string; servers: string[] }>;
}
