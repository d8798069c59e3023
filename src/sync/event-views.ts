/**
 * Events as a given user's client sees them: redactions applied (content
 * stripped per the room version, `unsigned.redacted_because`), `prev_content`
 * for state, `transaction_id` for the sender's own device, `age`, and the
 * bundled aggregations of their child events (`unsigned.m.relations`).
 */
import { toClientEvent, type ClientEvent } from '../events/client-format.js';
import { redactEvent } from '../events/redaction.js';
import type { JsonObject } from '../events/pdu.js';
import { RelationAggregator, type EventAggregations } from './aggregations.js';
import type { ChildEventsReader, RoomStateReader, StateHistoryReader } from '../storage/readers.js';
import type { EventRecord } from '../storage/storage.js';
import type { HiddenSenders } from './room-history.js';
import { visibilityCheckFor } from './room-visibility.js';
import { roomVersion } from '../events/room-versions.js';

export interface Viewer {
  userId: string;
  deviceId: string;
}

/**
 * Redacting and replaced events and the room's version, and what the
 * aggregations and their visibility check read: reads only.
 */
export interface EventViewsStorage {
  rooms: RoomStateReader & StateHistoryReader;
  relations: ChildEventsReader;
}

export class EventViews {
  /** Room versions never change, so they are cached without bound worries (one string per room). */
  private readonly versions = new Map<string, string>();
  private readonly aggregator: RelationAggregator;

  constructor(
    private readonly storage: EventViewsStorage,
    /**
     * Who each viewer ignores (AccountDataService.ignoredBy, which caches):
     * their child events are left out of the aggregations. Asked only for
     * events that have children.
     */
    ignoredBy: HiddenSenders,
  ) {
    this.aggregator = new RelationAggregator(storage, visibilityCheckFor(storage), ignoredBy);
  }

  async forClient(events: EventRecord[], viewer: Viewer): Promise<ClientEvent[]> {
    const now = Date.now();
    const relations = await this.bundledRelations(events, viewer, now);
    return Promise.all(
      events.map((event) => this.view(event, viewer, now, relations.get(event.eventId))),
    );
  }

  async one(event: EventRecord, viewer: Viewer): Promise<ClientEvent> {
    return (await this.forClient([event], viewer))[0]!;
  }

  /** `unsigned.m.relations` per event ID, for the events that have child events to bundle. */
  private async bundledRelations(
    events: EventRecord[],
    viewer: Viewer,
    now: number,
  ): Promise<Map<string, JsonObject>> {
    const aggregations = await this.aggregator.collect(events, viewer.userId);
    if (aggregations.size === 0) return new Map();
    // Thread events are no thread roots, so this recursion stops one level down.
    const latest = [...aggregations.values()].flatMap((a) => (a.thread ? [a.thread.latest] : []));
    const latestViews = new Map(
      (await this.forClient(latest, viewer)).map((view) => [view.event_id, view]),
    );
    const bundles = new Map<string, JsonObject>();
    for (const [eventId, aggregation] of aggregations) {
      bundles.set(eventId, await this.bundleOf(aggregation, latestViews, viewer, now));
    }
    return bundles;
  }

  private async bundleOf(
    aggregation: EventAggregations,
    latestViews: Map<string, ClientEvent>,
    viewer: Viewer,
    now: number,
  ): Promise<JsonObject> {
    const bundle: JsonObject = {};
    const { thread, replace, references } = aggregation;
    if (thread) {
      bundle['m.thread'] = {
        latest_event: asJson(latestViews.get(thread.latest.eventId)!),
        count: thread.count,
        current_user_participated: thread.participated,
      };
    }
    // Edits and annotations get no aggregations of their own: a plain view.
    if (replace) bundle['m.replace'] = asJson(await this.view(replace, viewer, now, undefined));
    if (references) bundle['m.reference'] = { chunk: references.map((id) => ({ event_id: id })) };
    return bundle;
  }

  private async view(
    event: EventRecord,
    viewer: Viewer,
    now: number,
    relations: JsonObject | undefined,
  ): Promise<ClientEvent> {
    const redaction = event.redactedBy
      ? await this.storage.rooms.getEvent(event.redactedBy)
      : undefined;
    const pdu = redaction ? redactEvent(event.pdu, await this.versionOf(event.roomId)) : event.pdu;
    const client = toClientEvent({ ...event, pdu }, now);
    const unsigned: JsonObject = { ...client.unsigned };
    if (redaction) unsigned.redacted_because = asJson(toClientEvent(redaction, now));
    if (event.replacesState) {
      const previous = await this.storage.rooms.getEvent(event.replacesState);
      if (previous) {
        unsigned.prev_content = await this.contentAsServed(previous);
        unsigned.replaces_state = previous.eventId;
        unsigned.prev_sender = previous.pdu.sender;
      }
    }
    const txn = event.transaction;
    if (txn && txn.userId === viewer.userId && txn.deviceId === viewer.deviceId) {
      unsigned.transaction_id = txn.txnId;
    }
    if (relations) unsigned['m.relations'] = relations;
    return withRedactsBothPlaces({ ...client, unsigned });
  }

  /**
   * An event's content as clients are served it: redacted if it was. The spec
   * is silent on `prev_content` of a redacted event; Synapse serves the pruned
   * content there too, so redacted content never resurfaces this way.
   */
  private async contentAsServed(event: EventRecord): Promise<JsonObject> {
    if (!event.redactedBy) return event.pdu.content;
    return redactEvent(event.pdu, await this.versionOf(event.roomId)).content;
  }

  private async versionOf(roomId: string) {
    let id = this.versions.get(roomId);
    if (id === undefined) {
      id = (await this.storage.rooms.getRoom(roomId))?.version ?? '';
      this.versions.set(roomId, id);
    }
    return roomVersion(id);
  }
}

/**
 * Room versions before 11 carry `redacts` at the top level, later ones in
 * `content`; clients of either era read their own place, so serve both.
 */
function withRedactsBothPlaces(event: ClientEvent): ClientEvent {
  if (event.type !== 'm.room.redaction') return event;
  const redacts = event.redacts ?? event.content.redacts;
  if (typeof redacts !== 'string') return event;
  return { ...event, redacts, content: { ...event.content, redacts } };
}

function asJson(event: ClientEvent): JsonObject {
  return event as unknown as JsonObject;
}
