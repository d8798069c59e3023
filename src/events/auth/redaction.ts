/**
 * Redactions. The authorization rules treat `m.room.redaction` like any other
 * event (only `events`/`events_default` apply; the redact level does not). Two
 * later checks decide whether a redaction takes effect:
 * - `canRedact`: the client-server rule — anyone may redact their own events,
 *   others' events need the redact level.
 * - `shouldApplyRedaction`: the room versions' "Handling redactions" rule
 *   (v3+) for received redactions — the redact level, or the same server.
 */
import type { RoomVersion } from '../room-versions.js';
import { namedLevel, powerLevelOf } from '../power-levels.js';
import type { Pdu } from '../pdu.js';
import type { AuthState } from './auth-state.js';
import { serverNameOf } from './ids.js';
import { ALLOWED, type AuthResult, refused } from './result.js';

export function canRedact(
  redactor: string,
  originalSender: string,
  state: AuthState,
  version: RoomVersion,
): AuthResult {
  if (redactor === originalSender) return ALLOWED;
  if (powerLevelOf(redactor, state, version) >= namedLevel('redact', state, version))
    return ALLOWED;
  return refused(
    'redaction: redact level',
    "Redacting another user's event needs the redact level",
  );
}

export function shouldApplyRedaction(
  redaction: Pick<Pdu, 'sender'>,
  original: Pick<Pdu, 'sender'>,
  state: AuthState,
  version: RoomVersion,
): boolean {
  const level = powerLevelOf(redaction.sender, state, version);
  if (level >= namedLevel('redact', state, version)) return true;
  const server = serverNameOf(redaction.sender);
  return server !== undefined && server === serverNameOf(original.sender);
}
