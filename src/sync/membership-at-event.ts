/**
 * `unsigned.membership` (MSC4115, spec v1.11): the requesting user's
 * membership at the time of each timeline event, the event's own change
 * included; `leave` before they had any. Pure.
 *
 * It is read from the user's membership history in the room (their member
 * events as the event stream saw them, which both /sync and sliding sync load
 * anyway to find the user's rooms), not from the state at each event: one
 * search per event and no state read. Synapse computes it from the state at the
 * event while checking history visibility; on a linear room the two agree, and
 * a membership made current by state resolution is in the history at the
 * position of the event that made it so.
 */
import type { JsonObject } from '../events/pdu.js';

/** One membership change of the user in a room, at its stream position. */
export interface MembershipStep {
  streamOrdering: number;
  membership: string;
}

/** The spec's value before the user's first member event in the room. */
const NO_MEMBERSHIP = 'leave';

/**
 * The membership after the last step at or before `position` (so an event's
 * own membership change counts for it). `history` is oldest first.
 */
export function membershipAt(history: readonly MembershipStep[], position: number): string {
  // Binary search: the first step after the position.
  let low = 0;
  let high = history.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (history[middle]!.streamOrdering <= position) low = middle + 1;
    else high = middle;
  }
  return low === 0 ? NO_MEMBERSHIP : history[low - 1]!.membership;
}

/**
 * Client-format events with `unsigned.membership` added; `positions[i]` is the
 * stream position of `events[i]`. The events are copied, never changed.
 */
export function withMembershipAt(
  events: readonly JsonObject[],
  positions: readonly number[],
  history: readonly MembershipStep[],
): JsonObject[] {
  return events.map((event, i) => {
    const unsigned = (event.unsigned ?? {}) as JsonObject;
    const membership = membershipAt(history, positions[i]!);
    return { ...event, unsigned: { ...unsigned, membership } };
  });
}

/** Each room's membership history, oldest first, from the user's membership events in stream order. */
export function membershipHistories(
  events: Iterable<MembershipStep & { roomId: string }>,
): Map<string, MembershipStep[]> {
  const histories = new Map<string, MembershipStep[]>();
  for (const { roomId, streamOrdering, membership } of events) {
    const history = histories.get(roomId);
    const step = { streamOrdering, membership };
    if (history) history.push(step);
    else histories.set(roomId, [step]);
  }
  return histories;
}
