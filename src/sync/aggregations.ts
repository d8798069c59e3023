/**
 * Bundled aggregations (spec: "Aggregations of child events"): what goes into
 * `unsigned.m.relations` of the events served to a user. For a list of events
 * it costs a fixed number of queries (one per aggregation kind, one visibility
 * check per room, one more recount of threads for a viewer who ignores
 * someone), however long the list:
 * - `m.thread` on thread roots: the newest thread event the user may see, the
 *   number of thread events, whether the user sent the root or a thread event;
 * - `m.replace` on events that are neither redacted nor edits: the most recent
 *   valid edit the user may see (the original's content is never rewritten);
 * - `m.reference`: the IDs of the referencing events the user may see.
 * State events, edits and annotations get none (as Synapse); events relating
 * to another get no thread (a thread cannot start there). Children sent by
 * users the viewer ignores count in none of them (spec: "Server-side
 * aggregation of m.thread relationships").
 */
import type { ChildEventsReader, RoomStateReader } from '../storage/readers.js';
import type { EventRecord, RelationRecord, ThreadSummary } from '../storage/storage.js';
import type { HiddenSenders, VisibilityCheck } from './room-history.js';
import {
  REL_REFERENCE,
  REL_REPLACE,
  REL_THREAD,
  isValidEdit,
  latestValidEdit,
  mayBundle,
  relationOf,
  type EditCandidate,
} from '../events/relations.js';
import { visibleScattered } from './scattered-visibility.js';

export interface ThreadAggregation {
  latest: EventRecord;
  count: number;
  participated: boolean;
}

export interface EventAggregations {
  thread?: ThreadAggregation;
  replace?: EventRecord;
  /** Referencing event IDs, oldest first. */
  references?: string[];
}

/** How many thread events are looked at for a visible latest one when the newest is hidden. */
const HIDDEN_LATEST_SCAN = 100;
const NOBODY: ReadonlySet<string> = new Set();

/** The children of a page of events, before history visibility. */
interface Children {
  summaries: ThreadSummary[];
  /** The roots in whose thread the user sent an event. */
  participated: Set<string>;
  edits: RelationRecord[];
  references: RelationRecord[];
  /** The senders the user ignores: their children are not counted (spec, server-side aggregation). */
  ignored: ReadonlySet<string>;
}

/** The children of events and their threads' summaries, and the children's events: reads only. */
export interface RelationAggregatorStorage {
  relations: ChildEventsReader;
  rooms: RoomStateReader;
}

export class RelationAggregator {
  constructor(
    private readonly storage: RelationAggregatorStorage,
    private readonly visibleTo: VisibilityCheck,
    private readonly ignoredBy: HiddenSenders,
  ) {}

  /** The aggregations of each event that has any, by event ID. */
  async collect(
    events: readonly EventRecord[],
    userId: string,
  ): Promise<Map<string, EventAggregations>> {
    const relations = this.storage.relations;
    const bundling = events.filter((e) => mayBundle(shapeOf(e), 'other'));
    // Asked together: one wait for the page, not one per event.
    const mayHave = await Promise.all(
      bundling.map((e) => relations.mayHaveChildren(e.eventId, e.streamOrdering)),
    );
    const eligible = unique(bundling.filter((_, i) => mayHave[i]));
    if (eligible.length === 0) return new Map();
    const found = await this.childrenOf(eligible, userId);
    // Most events have no child: the ignored-user list is only read for those that do.
    if (!hasAny(found)) return new Map();
    const children = await this.withoutIgnored(found, userId);
    const byId = new Map(eligible.map((e) => [e.eventId, e]));
    const validEdits = children.edits.filter((edit) => {
      const original = byId.get(edit.relatesTo);
      return original !== undefined && isValidEdit(editCandidateOf(original), edit);
    });
    const visible = await this.visibleRecords(userId, [
      ...children.summaries.map((s) => s.latestEventId),
      ...validEdits.map((e) => e.eventId),
      ...children.references.map((r) => r.eventId),
    ]);

    const result = new Map<string, EventAggregations>();
    const entry = (eventId: string) => {
      const existing = result.get(eventId) ?? {};
      result.set(eventId, existing);
      return existing;
    };
    for (const summary of children.summaries) {
      const root = byId.get(summary.rootId)!;
      const latest =
        visible.get(summary.latestEventId) ??
        (await this.latestVisible(root, userId, children.ignored));
      if (!latest) continue;
      entry(root.eventId).thread = {
        latest,
        count: summary.count,
        participated: root.pdu.sender === userId || children.participated.has(root.eventId),
      };
    }
    for (const [originalId, candidates] of groupByParent(validEdits)) {
      const seen = candidates.filter((edit) => visible.has(edit.eventId));
      const chosen = latestValidEdit(editCandidateOf(byId.get(originalId)!), seen);
      if (chosen) entry(originalId).replace = visible.get(chosen.eventId)!;
    }
    for (const [parentId, references] of groupByParent(children.references)) {
      const ids = references.filter((r) => visible.has(r.eventId)).map((r) => r.eventId);
      if (ids.length > 0) entry(parentId).references = ids;
    }
    return result;
  }

  /** One query per aggregation kind, whatever the number of events. */
  private async childrenOf(eligible: EventRecord[], userId: string): Promise<Children> {
    const relations = this.storage.relations;
    const rootIds = eligible.filter((e) => mayBundle(shapeOf(e), 'thread')).map((e) => e.eventId);
    const originalIds = eligible.filter((e) => e.redactedBy === undefined).map((e) => e.eventId);
    const [summaries, participated, edits, references] = await Promise.all([
      relations.threadSummaries(rootIds),
      relations.threadsWithSender(rootIds, userId),
      relations.childrenOfType(originalIds, REL_REPLACE),
      relations.childrenOfType(
        eligible.map((e) => e.eventId),
        REL_REFERENCE,
      ),
    ]);
    return { summaries, participated, edits, references, ignored: NOBODY };
  }

  /**
   * The children less those of senders the user ignores. The thread summaries
   * are counted again without them (one more query, only for users who ignore
   * someone); the user's own participation cannot involve an ignored sender.
   */
  private async withoutIgnored(children: Children, userId: string): Promise<Children> {
    const ignored = await this.ignoredBy(userId);
    if (ignored.size === 0) return children;
    const unignored = (child: RelationRecord) => !ignored.has(child.sender);
    const rootIds = children.summaries.map((s) => s.rootId);
    return {
      summaries: await this.storage.relations.threadSummaries(rootIds, [...ignored]),
      participated: children.participated,
      edits: children.edits.filter(unignored),
      references: children.references.filter(unignored),
      ignored,
    };
  }

  /** The events of these IDs that the user may see, by ID. */
  private async visibleRecords(userId: string, ids: string[]): Promise<Map<string, EventRecord>> {
    if (ids.length === 0) return new Map();
    const records = await this.storage.rooms.getEvents([...new Set(ids)]);
    const visible = await visibleScattered(this.storage, this.visibleTo, userId, records);
    return new Map(visible.map((e) => [e.eventId, e]));
  }

  /** The newest thread event the user may see, when the newest of all is hidden from them. */
  private async latestVisible(
    root: EventRecord,
    userId: string,
    ignored: ReadonlySet<string>,
  ): Promise<EventRecord | undefined> {
    const children = await this.storage.relations.children({
      parentId: root.eventId,
      relType: REL_THREAD,
      depth: 1,
      after: 0,
      upTo: Number.MAX_SAFE_INTEGER,
      limit: HIDDEN_LATEST_SCAN,
      order: 'newest-first',
    });
    const unignored = children.filter((c) => !ignored.has(c.sender));
    const visible = await this.visibleRecords(
      userId,
      unignored.map((c) => c.eventId),
    );
    return unignored.map((c) => visible.get(c.eventId)).find((e) => e !== undefined);
  }
}

function hasAny(children: Children): boolean {
  const { summaries, edits, references } = children;
  return summaries.length > 0 || edits.length > 0 || references.length > 0;
}

/** What the bundling rules read of a served event (a redacted one has lost its relation). */
function shapeOf(event: EventRecord): { isState: boolean; relType?: string } {
  const relation = event.redactedBy === undefined ? relationOf(event.pdu.content) : undefined;
  return { isState: event.pdu.state_key !== undefined, relType: relation?.relType };
}

function editCandidateOf(event: EventRecord): EditCandidate {
  return {
    eventId: event.eventId,
    roomId: event.roomId,
    sender: event.pdu.sender,
    type: event.pdu.type,
    isState: event.pdu.state_key !== undefined,
    relType: relationOf(event.pdu.content)?.relType,
    originServerTs: event.pdu.origin_server_ts,
  };
}

function groupByParent(children: readonly RelationRecord[]): Map<string, RelationRecord[]> {
  const groups = new Map<string, RelationRecord[]>();
  for (const child of children) {
    const group = groups.get(child.relatesTo) ?? [];
    group.push(child);
    groups.set(child.relatesTo, group);
  }
  return groups;
}

function unique(events: readonly EventRecord[]): EventRecord[] {
  return [...new Map(events.map((e) => [e.eventId, e])).values()];
}
