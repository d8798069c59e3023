/**
 * The checks federation's membership handshakes make of a PDU another server
 * hands us outside a transaction (send_join, send_leave, send_knock, invite,
 * and the state and auth chain a send_join answers with): the format of the
 * room version, the signatures of the servers that must sign (keys from the
 * key service), the content hash, and the auth rules against given auth
 * events and state. The same steps as the event receiver's (pdu-checks.ts).
 */
import { authStateOf, authorizeEvent, describeRefusal } from '../events/auth-rules.js';
import type { StoredEvent } from '../events/pdu.js';
import type { RoomVersion } from '../events/room-versions.js';
import { verifyEventSignature } from '../events/signing.js';
import { pairKey } from '../util/pair-key.js';
import type { ServerKeyLookup } from './event-receiver.js';
import {
  checkContentHash,
  checkPduFormat,
  checkSignatures,
  requiredSigners,
  signedByAnyKey,
  signingKeyIdsOf,
  type Check,
} from './pdu-checks.js';

/** A PDU whose format, signatures and hash held, with the servers whose signatures verified. */
export interface VerifiedPdu extends StoredEvent {
  roomId: string;
  signers: Set<string>;
}

export class MembershipChecks {
  constructor(private readonly keys: ServerKeyLookup) {}

  /**
   * Format, signatures, hash. A hash mismatch refuses here (these events come
   * with a request we answer: a tampered copy is an error, not a redaction).
   */
  async verify(json: unknown, version: RoomVersion, roomId?: string): Promise<Check<VerifiedPdu>> {
    const format = checkPduFormat(json, version, roomId);
    if (!format.ok) return format;
    const { pdu, eventId } = format.value;
    const keys = new Map<string, string>();
    for (const server of requiredSigners(pdu)) {
      for (const keyId of signingKeyIdsOf(pdu, server)) {
        const key = await this.keys
          .verifyKeyFor(server, keyId, pdu.origin_server_ts)
          .catch(() => undefined);
        if (key !== undefined) keys.set(pairKey(server, keyId), key);
      }
    }
    const signatures = checkSignatures(pdu, version, (s, k) => keys.get(pairKey(s, k)));
    if (!signatures.ok) return signatures;
    if (checkContentHash(pdu, version).redacted) {
      return { ok: false, reason: `The content hash of ${eventId} does not match` };
    }
    return {
      ok: true,
      value: { eventId, roomId: format.value.roomId, pdu, signers: signatures.value },
    };
  }

  /** Whether `server` signed the event with a key we can find (an invitee's server on its invite). */
  async isSignedBy(event: VerifiedPdu, server: string, version: RoomVersion): Promise<boolean> {
    for (const keyId of signingKeyIdsOf(event.pdu, server)) {
      const key = await this.keys
        .verifyKeyFor(server, keyId, event.pdu.origin_server_ts)
        .catch(() => undefined);
      if (key === undefined) continue;
      try {
        if (verifyEventSignature(event.pdu, server, keyId, key, version)) return true;
      } catch {
        // A malformed signature verifies nothing.
      }
    }
    return false;
  }
}

/**
 * The auth rules for `event` against its auth events (with `implied`: v12's
 * create event) and against a state (the state before it), the signatures
 * already checked; the refusal as a sentence, undefined when allowed.
 */
export function authRefusal(
  event: VerifiedPdu,
  version: RoomVersion,
  authEvents: { listed: StoredEvent[]; implied: StoredEvent[] },
  stateEvents?: StoredEvent[],
): string | undefined {
  const verifier = {
    isSignedBy: (_event: unknown, serverName: string) => event.signers.has(serverName),
    isSignedByAnyKey: signedByAnyKey,
  };
  const own = authorizeEvent(
    event.pdu,
    authStateOf([...authEvents.implied, ...authEvents.listed]),
    version,
    { authEvents: authEvents.listed, verifier },
  );
  if (!own.allowed) return describeRefusal(own) ?? 'Refused by its auth events';
  if (stateEvents === undefined) return undefined;
  const byState = authorizeEvent(event.pdu, authStateOf(stateEvents), version, { verifier });
  return byState.allowed ? undefined : (describeRefusal(byState) ?? 'Refused by the room state');
}

/** v12: the create event, which the room ID names instead of auth_events. */
export function impliedAuthEventIds(event: StoredEvent, version: RoomVersion): string[] {
  const { pdu } = event;
  if (!version.roomIdFromCreateEvent || pdu.type === 'm.room.create' || !pdu.room_id) return [];
  return [`$${pdu.room_id.slice(1)}`];
}
