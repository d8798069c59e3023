/**
 * Server ACLs against a room's current state: the checks every room-scoped
 * federation request makes (server-acl-rules.ts holds the rules).
 *
 * Protected, as the server-server API lists them: the PDUs of `/send` (per
 * PDU: a refused one gets an error in the answer, the others go on), the
 * room EDUs (typing and receipts, MSC4163, as Synapse), make/send join,
 * leave and knock, invite, `/event`, `/state`, `/state_ids`, `/backfill`,
 * `/get_missing_events`, `/event_auth`, `/timestamp_to_event` and
 * `/hierarchy`. A refused request is 403 M_FORBIDDEN.
 * A room we do not know has no ACL here: the endpoint answers as it would.
 *
 * The ACL is the current state's `m.room.server_acl`: one cached lookup of
 * the current entry per check, and its compiled rules kept by event ID.
 */
import { eventIdFor } from '../events/hashing.js';
import type { Pdu } from '../events/pdu.js';
import { ROOM_VERSIONS } from '../events/room-versions.js';
import { errors } from '../protocol/errors.js';
import type { RoomStateReader } from '../storage/readers.js';
import { LruCache } from '../util/lru-cache.js';
import type { PduResult } from './event-receiver.js';
import {
  SERVER_ACL_TYPE,
  isServerAllowed,
  parseServerAcl,
  type ServerAcl,
} from './server-acl-rules.js';

/** ACLs kept compiled: one per room in use, at most. */
const COMPILED_ACLS = 1_000;
const ACL_DENIED = 'This server is denied by the room’s server ACL';

/** The reads a check makes: the current ACL entry (cached by the stores), its event, the room's version. */
export type ServerAclStore = Pick<RoomStateReader, 'getRoom' | 'getEvents' | 'currentStateIdsFor'>;

export class ServerAclCheck {
  private readonly compiled = new LruCache<string, ServerAcl>(COMPILED_ACLS);

  constructor(private readonly rooms: ServerAclStore) {}

  /** Whether the room's ACL lets the server in (no ACL, or an unknown room: yes). */
  async isAllowed(roomId: string, serverName: string): Promise<boolean> {
    return isServerAllowed(await this.aclOf(roomId), serverName);
  }

  /** 403 M_FORBIDDEN for a server the room's ACL denies. */
  async requireAllowed(roomId: string, serverName: string): Promise<void> {
    if (!(await this.isAllowed(roomId, serverName))) throw errors.forbidden(ACL_DENIED);
  }

  /**
   * A /send's PDUs split by the origin's standing in each PDU's room: those of
   * rooms that deny it are answered with the reason (keyed by event ID, as the
   * receiver would), the rest go on to the receiver.
   */
  async screenPdus(
    origin: string,
    pdus: readonly unknown[],
  ): Promise<{ admitted: unknown[]; refused: Record<string, PduResult> }> {
    const admitted: unknown[] = [];
    const refused: Record<string, PduResult> = {};
    const allowedIn = new Map<string, boolean>();
    for (const pdu of pdus) {
      const roomId = roomIdOf(pdu);
      if (roomId === undefined) {
        admitted.push(pdu);
        continue;
      }
      let allowed = allowedIn.get(roomId);
      if (allowed === undefined) {
        allowed = await this.isAllowed(roomId, origin);
        allowedIn.set(roomId, allowed);
      }
      if (allowed) {
        admitted.push(pdu);
        continue;
      }
      const eventId = await this.eventIdOf(roomId, pdu);
      if (eventId !== undefined) refused[eventId] = { error: ACL_DENIED };
    }
    return { admitted, refused };
  }

  private async aclOf(roomId: string): Promise<ServerAcl | undefined> {
    const current = await this.rooms.currentStateIdsFor(roomId, [
      { type: SERVER_ACL_TYPE, stateKey: '' },
    ]);
    const eventId = current.values().next().value as string | undefined;
    if (eventId === undefined) return undefined;
    const cached = this.compiled.get(eventId);
    if (cached) return cached;
    const [event] = await this.rooms.getEvents([eventId]);
    if (!event) return undefined;
    const acl = parseServerAcl(event.pdu.content);
    this.compiled.set(eventId, acl);
    return acl;
  }

  /** The event ID of a refused PDU, for the answer's map; undefined when none can be computed. */
  private async eventIdOf(roomId: string, pdu: unknown): Promise<string | undefined> {
    const room = await this.rooms.getRoom(roomId);
    const version = room && ROOM_VERSIONS.get(room.version);
    if (!version || typeof pdu !== 'object' || pdu === null || Array.isArray(pdu)) return undefined;
    try {
      return eventIdFor(pdu as Pdu, version);
    } catch {
      return undefined;
    }
  }
}

function roomIdOf(pdu: unknown): string | undefined {
  if (typeof pdu !== 'object' || pdu === null) return undefined;
  const roomId = (pdu as Record<string, unknown>).room_id;
  return typeof roomId === 'string' ? roomId : undefined;
}
