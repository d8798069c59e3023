/** Rule 4.4.1 (v12: 5.4.1): an invite that carries `third_party_invite`. */
import type { RoomVersion } from '../room-versions.js';
import type { JsonObject, Pdu } from '../pdu.js';
import {
  type AuthState,
  isObject,
  membershipOf,
  stateEvent,
  THIRD_PARTY_INVITE,
} from './auth-state.js';
import { ALLOWED, type AuthResult, refusedBy } from './result.js';
import type { SignatureVerifier } from './verifier.js';

export function authorizeThirdPartyInvite(
  event: Pdu,
  target: string,
  state: AuthState,
  version: RoomVersion,
  verifier: SignatureVerifier | undefined,
): AuthResult {
  const refuse = (rule: string, name: string, reason: string): AuthResult =>
    refusedBy(version, `4.4.1.${rule}`, `third-party invite: ${name}`, reason);
  if (membershipOf(state, target) === 'ban')
    return refuse('1', 'target banned', `${target} is banned`);
  const invite = event.content.third_party_invite;
  const signed = isObject(invite) ? invite.signed : undefined;
  if (!isObject(signed)) return refuse('2', 'no signed', 'third_party_invite has no signed object');
  const { mxid, token } = signed;
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    return refuse('3', 'no mxid or token', 'signed lacks mxid or token');
  }
  if (mxid !== target) return refuse('4', 'mxid mismatch', 'signed.mxid is not the state_key');
  const original = stateEvent(state, THIRD_PARTY_INVITE, token);
  if (!original) return refuse('5', 'unknown token', 'No m.room.third_party_invite for this token');
  if (original.pdu.sender !== event.sender) {
    return refuse('6', 'different sender', 'The sender did not send the third-party invite');
  }
  const keys = publicKeysOf(original.pdu.content);
  if (verifier?.isSignedByAnyKey(signed, keys)) return ALLOWED; // 4.4.1.7
  const why = verifier ? 'no signature matches its public keys' : 'no signature verifier given';
  return refuse('8', 'bad signature', `signed is not validly signed (${why})`);
}

/** 4.4.1.7.1–2: the `public_key` and every `public_keys[].public_key`. */
export function publicKeysOf(content: JsonObject): string[] {
  const keys = typeof content.public_key === 'string' ? [content.public_key] : [];
  const list = Array.isArray(content.public_keys) ? content.public_keys : [];
  for (const entry of list) {
    if (isObject(entry) && typeof entry.public_key === 'string') keys.push(entry.public_key);
  }
  return keys;
}
