/**
 * The events one state resolution (or one auth chain query) reads, loaded in
 * batches and kept for the call: the auth DAG is walked a layer at a time,
 * one `loadEvents` call per layer, so a room's thousands of member events
 * cost a few round trips rather than one per event. Once loaded, every walk
 * over the graph is synchronous.
 */
import type { RoomVersion } from '../room-versions.js';
import type { Pdu, StoredEvent } from '../pdu.js';

/** Loads events by ID; IDs it does not hold are left out of the answer. */
export type EventLoader = (eventIds: string[]) => Promise<StoredEvent[]>;

const CREATE = 'm.room.create';

export class EventGraph {
  private readonly events = new Map<string, StoredEvent>();
  /** IDs asked for and not found: not asked for again. */
  private readonly absent = new Set<string>();
  /** How many times `loadEvents` was called (for tests of the batching). */
  loadCalls = 0;

  /** `version` tells whether the room ID implies the create event (v12); without it the room ID's form does. */
  constructor(
    private readonly loadEvents: EventLoader,
    private readonly version?: RoomVersion,
  ) {}

  get(eventId: string): StoredEvent | undefined {
    return this.events.get(eventId);
  }

  has(eventId: string): boolean {
    return this.events.has(eventId);
  }

  /**
   * An event's auth event IDs: its `auth_events`, and in v12 the create event,
   * which the room ID names instead (every non-create event is authorised by it).
   */
  authIds(event: StoredEvent): string[] {
    const listed = event.pdu.auth_events.filter((id) => typeof id === 'string');
    const implied = this.impliedCreateId(event.pdu);
    return implied === undefined || listed.includes(implied) ? listed : [...listed, implied];
  }

  /** The event IDs of the room's create event implied by a v12 event's room ID. */
  private impliedCreateId(pdu: Pdu): string | undefined {
    if (pdu.type === CREATE || typeof pdu.room_id !== 'string') return undefined;
    // v10/v11 room IDs always have a server part; v12 ones never do.
    const implies = this.version?.roomIdFromCreateEvent ?? !pdu.room_id.includes(':');
    return implies ? `$${pdu.room_id.slice(1)}` : undefined;
  }

  /** Loads the events of `eventIds` not yet known, in one call. */
  async load(eventIds: Iterable<string>): Promise<void> {
    const wanted = [...new Set(eventIds)].filter(
      (id) => !this.events.has(id) && !this.absent.has(id),
    );
    if (wanted.length === 0) return;
    this.loadCalls += 1;
    const found = await this.loadEvents(wanted);
    const asked = new Set(wanted);
    for (const event of found) {
      if (asked.has(event.eventId)) this.events.set(event.eventId, event);
    }
    for (const id of wanted) if (!this.events.has(id)) this.absent.add(id);
  }

  /**
   * Loads these events and everything reachable from them by auth events, a
   * layer at a time: one call per layer, so as many calls as the longest auth
   * path is long. O(V + E) work for the V events and E auth links reached.
   */
  async loadWithAuthChains(eventIds: Iterable<string>): Promise<void> {
    const seen = new Set(eventIds);
    let layer = [...seen];
    while (layer.length > 0) {
      await this.load(layer);
      const next: string[] = [];
      for (const id of layer) {
        const event = this.events.get(id);
        if (!event) continue;
        for (const authId of this.authIds(event)) {
          if (seen.has(authId)) continue;
          seen.add(authId);
          next.push(authId);
        }
      }
      layer = next;
    }
  }

  /**
   * The known events reachable from `starts` by auth links, the starts
   * included; the walk does not enter events of `stop` (a set closed under
   * auth links, so nothing past them is missed that is not in it). O(V + E).
   */
  reachable(starts: Iterable<string>, stop?: ReadonlySet<string>): Set<string> {
    const found = new Set<string>();
    const pending: string[] = [];
    const visit = (id: string): void => {
      if (found.has(id) || stop?.has(id) || !this.events.has(id)) return;
      found.add(id);
      pending.push(id);
    };
    for (const id of starts) visit(id);
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      const event = this.events.get(id);
      if (event) for (const authId of this.authIds(event)) visit(authId);
    }
    return found;
  }

  /** The known auth chain of these events: their auth events, theirs, and so on (not the events themselves, unless reached). */
  authChainOf(eventIds: Iterable<string>): Set<string> {
    const firstLinks: string[] = [];
    for (const id of eventIds) {
      const event = this.events.get(id);
      if (event) firstLinks.push(...this.authIds(event));
    }
    return this.reachable(firstLinks);
  }
}
