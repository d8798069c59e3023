/**
 * The outcome of the authorization rules, naming the rule that refused, and
 * the rule numbers of each room version.
 */
import type { RoomVersion } from '../room-versions.js';

export type AuthResult = { allowed: true } | { allowed: false; rule: string; reason: string };

export const ALLOWED: AuthResult = { allowed: true };

/** A refusal: `rule` is "<number> <short name>", e.g. "4.3.3 join: banned". */
export function refused(rule: string, reason: string): AuthResult {
  return { allowed: false, rule, reason };
}

/**
 * Converts a rule number of the v10/v11 list to the version's own list. v12
 * inserted rule 2 (the room ID is the create event's) and rule 10.4 (creators
 * not in `users`), so later rules move down by one there.
 */
export function ruleNumber(version: RoomVersion, v11Number: string): string {
  if (!version.roomIdFromCreateEvent) return v11Number;
  const [top = 0, sub, ...rest] = v11Number.split('.').map(Number);
  if (top === 1) return v11Number;
  const shiftedSub = top === 9 && sub !== undefined && sub >= 4 ? sub + 1 : sub;
  return [top + 1, ...(shiftedSub === undefined ? [] : [shiftedSub]), ...rest].join('.');
}

/** `refused` with the v10/v11 rule number converted for the version. */
export function refusedBy(
  version: RoomVersion,
  v11Number: string,
  name: string,
  reason: string,
): AuthResult {
  return refused(`${ruleNumber(version, v11Number)} ${name}`, reason);
}
