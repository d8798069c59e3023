/**
 * Where a received event (federation) leaves the room: the forward
 * extremities and the current state after it, planned on the room's head
 * for RoomService.persistReceived, which holds the room's lock.
 *
 * - Extremities (as Synapse computes them): the event's prev_events stop
 *   being extremities; the event becomes one unless a stored event already
 *   names it as a prev_event (it arrived after its child). A soft-failed or
 *   rejected event changes neither extremities nor current state.
 * - Current state: the state after the event when it is the only extremity;
 *   unchanged when the extremities are; else the states after every
 *   extremity, resolved (the spec's rule: the room's state is the resolution
 *   of its forward extremities' states).
 */
import { resolveState } from '../events/state-resolution.js';
import type { StoredEvent } from '../events/pdu.js';
import { indexedRelationOf } from '../events/relations.js';
import { stateMapKey } from '../events/auth-rules.js';
import type { NewRoomEvent, RoomStore, StateIds } from '../storage/storage.js';
import type { RoomHead } from './room-heads.js';

/** An event E2's checks accepted (or soft-failed or rejected), with the state before it. */
export interface ReceivedEvent {
  event: StoredEvent;
  /** The whole state before the event (the resolved states after its prev_events). */
  stateBefore: StateIds;
  /** Passed the checks against its own state, failed against the current state. */
  softFailed?: boolean;
  /** Failed the checks against its auth events or its state: kept, never served. */
  rejectedReason?: string;
}

/** An event known without its state (an auth chain's, a state fetched to fill a gap). */
export interface OutlierEvent {
  event: StoredEvent;
  rejectedReason?: string;
}

export type Extremity = { eventId: string; depth: number };

export interface ReceivedPlan {
  stored: NewRoomEvent;
  /** The head's extremities after it; undefined when unchanged (off-stream events). */
  extremities?: Extremity[];
  /** The current state after it when it changed. */
  currentState?: StateIds;
}

export type ReceivedPlanStorage = Pick<
  RoomStore,
  'getEvents' | 'stateIdsAfter' | 'referencedEvents'
>;

/**
 * Plans a run of received events of one room on its head, each on the ones
 * before: the states after and events planned but not yet committed are
 * kept here (resolution and the next event's plan read them).
 */
export class ReceivedPlanner {
  private readonly statesAfter = new Map<string, StateIds>();
  private readonly planned = new Map<string, StoredEvent>();
  private readonly named = new Set<string>();

  constructor(
    private readonly storage: ReceivedPlanStorage,
    private readonly head: RoomHead,
  ) {}

  async plan(received: ReceivedEvent): Promise<ReceivedPlan> {
    const { event, stateBefore } = received;
    const { eventId, pdu } = event;
    const stored: NewRoomEvent = {
      eventId,
      roomId: this.head.room.roomId,
      pdu,
      stateBefore: new Map(stateBefore),
    };
    if (received.rejectedReason !== undefined) {
      return { stored: { ...stored, rejectedReason: received.rejectedReason } };
    }
    // Resolution may need it before it commits (never a rejected one: the spec leaves them out).
    this.planned.set(eventId, event);
    const after = new Map(stateBefore);
    if (pdu.state_key !== undefined) after.set(stateMapKey(pdu.type, pdu.state_key), eventId);
    this.statesAfter.set(eventId, after);
    if (received.softFailed) return { stored: { ...stored, softFailed: true } };

    const relation = indexedRelationOf(pdu.content);
    if (relation) stored.relation = relation;
    const current = this.head.extremities;
    const prevs = new Set(pdu.prev_events);
    const kept = current.filter((e) => !prevs.has(e.eventId));
    const referenced = await this.isReferenced(eventId);
    for (const prev of pdu.prev_events) this.named.add(prev);
    // An event already named stays out of the extremities, unless none would be left.
    const addSelf = !referenced || kept.length === 0;
    const extremities = addSelf ? [...kept, { eventId, depth: pdu.depth }] : kept;
    stored.extremities = {
      remove: current.filter((e) => prevs.has(e.eventId)).map((e) => e.eventId),
      add: addSelf ? [eventId] : [],
    };
    const currentState = await this.currentStateAfter(current, extremities, eventId, after);
    if (currentState) stored.currentState = currentState;
    return { stored, extremities, ...(currentState ? { currentState } : {}) };
  }

  private async isReferenced(eventId: string): Promise<boolean> {
    if (this.named.has(eventId)) return true;
    return (await this.storage.referencedEvents([eventId])).has(eventId);
  }

  private async currentStateAfter(
    before: readonly Extremity[],
    after: readonly Extremity[],
    eventId: string,
    stateAfterEvent: StateIds,
  ): Promise<StateIds | undefined> {
    if (after.length === 1 && after[0]!.eventId === eventId) return stateAfterEvent;
    if (sameExtremities(before, after)) return undefined;
    const sets = await this.statesOf(after);
    if (sets.length === 0) return undefined;
    if (sets.every((set) => sameState(set, sets[0]!))) return sets[0];
    return resolveState({
      version: this.head.version,
      stateSets: sets,
      loadEvents: (ids) => this.loadEvents(ids),
    });
  }

  private async statesOf(extremities: readonly Extremity[]): Promise<StateIds[]> {
    const sets: StateIds[] = [];
    for (const { eventId } of extremities) {
      const state = this.statesAfter.get(eventId) ?? (await this.storage.stateIdsAfter(eventId));
      if (state) sets.push(state);
    }
    return sets;
  }

  /** Stored events (outliers and soft-failed ones included), and those planned here. */
  private async loadEvents(ids: string[]): Promise<StoredEvent[]> {
    const pending = ids.flatMap((id) => this.planned.get(id) ?? []);
    const fromStorage = await this.storage.getEvents(ids.filter((id) => !this.planned.has(id)));
    return [...pending, ...fromStorage];
  }
}

function sameExtremities(a: readonly Extremity[], b: readonly Extremity[]): boolean {
  if (a.length !== b.length) return false;
  const ids = new Set(a.map((e) => e.eventId));
  return b.every((e) => ids.has(e.eventId));
}

function sameState(a: StateIds, b: StateIds): boolean {
  if (a.size !== b.size) return false;
  for (const [key, eventId] of a) if (b.get(key) !== eventId) return false;
  return true;
}
