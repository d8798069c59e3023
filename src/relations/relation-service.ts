/**
 * The relations endpoints and the checks on new relations:
 * - GET /relations/{eventId}[/{relType}[/{eventType}]]: an event's children
 *   (or, with `recurse`, descendants down to MAX_RELATION_DEPTH levels),
 *   paged by stream position with the same tokens as /messages and /sync;
 * - GET /threads: a room's thread roots, the most recently active first;
 * - before a send: the relation's parent must be in the room, a thread cannot
 *   start at an event that relates to another, a user's reaction cannot repeat.
 * Reads are checked as /messages is: who may read the room up to where
 * (HistoryService.readableUpTo), then history visibility event by event. A
 * user refused the room gets 403 from /threads (threads_list.yaml) but 404
 * from /relations, as for a parent they may not see (relations.yaml has only
 * 404, so as not to tell which). Ignored users' events are not served, except
 * thread roots, which /threads serves redacted.
 */
import type { JsonObject } from '../events/pdu.js';
import { redactEvent } from '../events/redaction.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { EventViews, Viewer } from '../sync/event-views.js';
import type { TransactionScope } from '../rooms/room-service.js';
import { roomVersion } from '../events/room-versions.js';
import type { RoomStateReader } from '../storage/readers.js';
import type { EventRecord, RelationStore, RoomStore } from '../storage/storage.js';
import type { HistoryService } from '../sync/history-service.js';
import type { Notifier } from '../sync/notifier.js';
import type { VisibilityCheck } from '../sync/room-history.js';
import { encodeSyncToken, parseSyncToken } from '../sync/stream-token.js';
import { REL_ANNOTATION, REL_THREAD, relationOf } from '../events/relations.js';
import { visibleScattered } from '../sync/scattered-visibility.js';

/** Synapse's recursion depth for `recurse=true`. */
export const MAX_RELATION_DEPTH = 3;
/** Synapse's defaults; the maximum keeps one page of bundled aggregations bounded. */
export const DEFAULT_LIMIT = 5;
export const MAX_LIMIT = 100;
/** Synapse's bound on an annotation key. */
const MAX_ANNOTATION_KEY_LENGTH = 500;
/** Rows read beyond the limit, so that hidden events rarely need a second query. */
const PAGE_SLACK = 10;
/** How many rows one request looks at for visible ones, so hidden history stays cheap. */
const MAX_SCANNED = 1_000;

export interface RelationsRequest {
  viewer: Viewer;
  roomId: string;
  eventId: string;
  relType?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  dir: 'b' | 'f';
  /** Undefined when the client did not pass `recurse`. */
  recurse?: boolean;
}

export interface ThreadsRequest {
  viewer: Viewer;
  roomId: string;
  include: 'all' | 'participated';
  from?: string;
  limit?: number;
}

/** One item of a paged scan: its position and the event, if the user may see it. */
interface Scanned {
  position: number;
  event?: EventRecord;
}

/** Reads one page of a scan at `cursor`; returns rows in scan order. */
type PageReader = (cursor: number, size: number) => Promise<Scanned[]>;

/** The relations, and the rooms' events, versions, state (visibility) and sends' transactions. */
export interface RelationServiceStorage {
  relations: RelationStore;
  rooms: RoomStateReader & Pick<RoomStore, 'transactionEvent'>;
}

export class RelationService {
  constructor(
    private readonly storage: RelationServiceStorage,
    private readonly views: EventViews,
    private readonly history: HistoryService,
    private readonly visibleTo: VisibilityCheck,
    private readonly notifier: Notifier,
    /** The senders the user ignores (m.ignored_user_list): their events are not served. */
    private readonly ignoredBy: (userId: string) => Promise<ReadonlySet<string>> = async () =>
      new Set(),
  ) {}

  async relations(request: RelationsRequest): Promise<JsonObject> {
    const { viewer, roomId } = request;
    const now = this.notifier.currentPositions();
    const readableUpTo = await this.readableUpToOrNotFound(roomId, viewer.userId, now.roomEvents);
    await this.requireVisibleParent(viewer.userId, roomId, request.eventId, readableUpTo);
    const limit = pageLimit(request.limit);
    const backwards = request.dir === 'b';
    const from = request.from === undefined ? undefined : positionOf(request.from);
    const to = request.to === undefined ? undefined : positionOf(request.to);
    const low = backwards ? (to ?? 0) : (from ?? 0);
    const high = Math.min(backwards ? (from ?? readableUpTo) : (to ?? readableUpTo), readableUpTo);
    const depth = request.recurse ? MAX_RELATION_DEPTH : 1;
    const read: PageReader = async (cursor, size) => {
      const rows = await this.storage.relations.children({
        parentId: request.eventId,
        relType: request.relType,
        eventType: request.eventType,
        depth,
        after: backwards ? low : cursor,
        upTo: backwards ? cursor : high,
        limit: size,
        order: backwards ? 'newest-first' : 'oldest-first',
      });
      return this.withVisibility(viewer.userId, rows);
    };
    const page = await collectPage(read, backwards ? high : low, limit, backwards, (cursor) =>
      backwards ? cursor > low : cursor < high,
    );
    const response: JsonObject = {
      chunk: (await this.views.forClient(page.events, viewer)) as unknown as JsonObject[],
    };
    const token = (position: number) => encodeSyncToken({ ...now, roomEvents: position });
    if (page.resumeAt !== undefined) response.next_batch = token(page.resumeAt);
    if (request.from !== undefined) response.prev_batch = request.from;
    if (request.recurse) response.recursion_depth = MAX_RELATION_DEPTH;
    return response;
  }

  async threads(request: ThreadsRequest): Promise<JsonObject> {
    const { viewer, roomId } = request;
    const now = this.notifier.currentPositions();
    const readableUpTo = await this.history.readableUpTo(roomId, viewer.userId, now.roomEvents);
    const limit = pageLimit(request.limit);
    const participant = request.include === 'participated' ? viewer.userId : undefined;
    const read: PageReader = async (cursor, size) => {
      const threads = await this.storage.relations.threads({
        roomId,
        upTo: cursor,
        limit: size,
        participant,
      });
      const roots = await this.storage.rooms.getEvents(threads.map((t) => t.rootId));
      const readable = roots.filter((root) => root.streamOrdering <= readableUpTo);
      // Roots of ignored users too: they are served redacted.
      const visible = await this.historyVisibleIds(viewer.userId, readable);
      const byId = new Map(roots.map((root) => [root.eventId, root]));
      return threads.map((t) => ({
        position: t.latestStreamOrdering,
        event: visible.has(t.rootId) ? byId.get(t.rootId) : undefined,
      }));
    };
    const start = request.from === undefined ? now.roomEvents : positionOf(request.from);
    const page = await collectPage(read, start, limit, true, (cursor) => cursor > 0);
    const roots = await this.redactingIgnored(viewer.userId, roomId, page.events);
    const response: JsonObject = {
      chunk: (await this.views.forClient(roots, viewer)) as unknown as JsonObject[],
    };
    if (page.resumeAt !== undefined) {
      response.next_batch = encodeSyncToken({ ...now, roomEvents: page.resumeAt });
    }
    return response;
  }

  /**
   * Refuses a relation the server should not accept (as Synapse): a parent in
   * another room or never seen, a thread off an event that relates to another,
   * an annotation without a key or one the sender already made. A retried
   * client transaction is not checked: it gets its first event back.
   */
  async checkSend(
    roomId: string,
    type: string,
    content: unknown,
    sender: string,
    txn?: TransactionScope,
  ) {
    const relation = relationOf(content);
    if (!relation) return;
    if (txn) {
      const { deviceId, endpoint, txnId } = txn;
      if (await this.storage.rooms.transactionEvent(sender, deviceId, endpoint, txnId)) return;
    }
    const parent = await this.storage.rooms.getEvent(relation.eventId);
    if (parent && parent.roomId !== roomId) {
      throw errors.unknown('Relations must be in the same room');
    }
    if (!parent && !(await this.hasChildren(relation.eventId))) {
      throw errors.unknown("Can't send a relation to an unknown event");
    }
    if (relation.relType === REL_THREAD && parent && relationOf(parent.pdu.content)) {
      throw errors.unknown('Cannot start a thread from an event with a relation');
    }
    if (relation.relType === REL_ANNOTATION) {
      await this.checkAnnotation(relation.eventId, sender, type, relation.key);
    }
  }

  private async checkAnnotation(
    parentId: string,
    sender: string,
    type: string,
    key: string | undefined,
  ): Promise<void> {
    if (key === undefined) throw errors.unknown('An annotation needs a key');
    if (key.length > MAX_ANNOTATION_KEY_LENGTH) throw errors.unknown('Annotation key too long');
    if (await this.storage.relations.hasAnnotation(parentId, sender, type, key)) {
      throw new MatrixError(400, 'M_DUPLICATE_ANNOTATION', "Can't send the same reaction twice");
    }
  }

  /** The client may know an event the server has not seen from its other children. */
  private async hasChildren(eventId: string): Promise<boolean> {
    const children = await this.storage.relations.children({
      parentId: eventId,
      depth: 1,
      after: 0,
      upTo: Number.MAX_SAFE_INTEGER,
      limit: 1,
      order: 'newest-first',
    });
    return children.length > 0;
  }

  private async readableUpToOrNotFound(
    roomId: string,
    userId: string,
    now: number,
  ): Promise<number> {
    const upTo = await this.history.readLimit(roomId, userId, now);
    if (upTo === undefined) throw errors.notFound('Event not found');
    return upTo;
  }

  /**
   * threads_list.yaml: a root sent by an ignored user is served redacted, as a
   * client aggregating the thread itself would show it.
   */
  private async redactingIgnored(
    userId: string,
    roomId: string,
    roots: EventRecord[],
  ): Promise<EventRecord[]> {
    const ignored = await this.ignoredBy(userId);
    if (!roots.some((root) => ignored.has(root.pdu.sender))) return roots;
    const version = roomVersion((await this.storage.rooms.getRoom(roomId))?.version ?? '');
    return roots.map((root) =>
      ignored.has(root.pdu.sender) ? { ...root, pdu: redactEvent(root.pdu, version) } : root,
    );
  }

  private async requireVisibleParent(
    userId: string,
    roomId: string,
    eventId: string,
    readableUpTo: number,
  ): Promise<void> {
    const parent = await this.storage.rooms.getEvent(eventId);
    const visible =
      parent !== undefined &&
      parent.roomId === roomId &&
      parent.streamOrdering <= readableUpTo &&
      (await this.visibleTo(userId, roomId, [parent])).length === 1;
    if (!visible) throw errors.notFound('Event not found');
  }

  private async withVisibility(
    userId: string,
    rows: readonly { eventId: string; streamOrdering: number }[],
  ): Promise<Scanned[]> {
    const records = await this.storage.rooms.getEvents(rows.map((r) => r.eventId));
    const visible = await this.visibleIds(userId, records);
    const byId = new Map(records.map((record) => [record.eventId, record]));
    return rows.map((row) => ({
      position: row.streamOrdering,
      event: visible.has(row.eventId) ? byId.get(row.eventId) : undefined,
    }));
  }

  /** The events the user may see: history visibility, and nothing (but state) from ignored users. */
  private async visibleIds(userId: string, events: EventRecord[]): Promise<Set<string>> {
    const ignored = await this.ignoredBy(userId);
    const wanted = events.filter(
      (e) => e.pdu.state_key !== undefined || !ignored.has(e.pdu.sender),
    );
    return this.historyVisibleIds(userId, wanted);
  }

  /** The events history visibility lets the user see, whoever sent them. */
  private async historyVisibleIds(userId: string, events: EventRecord[]): Promise<Set<string>> {
    const visible = await visibleScattered(this.storage, this.visibleTo, userId, events);
    return new Set(visible.map((e) => e.eventId));
  }
}

interface Page {
  events: EventRecord[];
  /** Where the next page starts; undefined when the scan reached its end. */
  resumeAt: number | undefined;
}

/**
 * Reads pages from `start` until `limit` visible events are kept, the range is
 * exhausted, or MAX_SCANNED rows were looked at. Backwards, a cursor C reads
 * positions ≤ C and moves to (last position − 1); forwards it reads > C and
 * moves to the last position.
 */
async function collectPage(
  read: PageReader,
  start: number,
  limit: number,
  backwards: boolean,
  hasMore: (cursor: number) => boolean,
): Promise<Page> {
  const events: EventRecord[] = [];
  let cursor = start;
  let scanned = 0;
  while (events.length < limit && hasMore(cursor) && scanned < MAX_SCANNED) {
    const size = limit - events.length + PAGE_SLACK;
    const rows = await read(cursor, size);
    let looked = 0;
    for (const row of rows) {
      if (events.length === limit) break;
      looked++;
      cursor = backwards ? row.position - 1 : row.position;
      if (row.event) events.push(row.event);
    }
    scanned += looked;
    if (rows.length < size && looked === rows.length) return { events, resumeAt: undefined };
  }
  return { events, resumeAt: hasMore(cursor) ? cursor : undefined };
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (limit < 1) throw errors.invalidParam('limit must be greater than zero');
  return Math.min(limit, MAX_LIMIT);
}

function positionOf(token: string): number {
  return parseSyncToken(token).roomEvents;
}
