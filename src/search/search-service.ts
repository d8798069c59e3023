/**
 * Server-side search (POST /search, `room_events`): the index's candidates,
 * kept only where the searcher may read them, then shaped as search.yaml has it.
 *
 * Rooms searched: those the user is joined to, up to now, and those they left
 * (not forgotten), up to their leave: what /messages lets them read
 * (HistoryService.readLimit). Synapse searches joined rooms only; reading left
 * rooms as /messages does finds what the user could scroll to anyway.
 * Within a room, each candidate passes history visibility, the request's
 * filter and the user's ignore list (as Synapse's filter_events_for_client),
 * so a `joined` room's events from before the user joined never appear.
 */
import type { JsonObject } from '../protocol/params.js';
import { searchableText } from '../events/search-fields.js';
import type {
  EventRecord,
  SearchedRoom,
  SearchHit,
  SearchQuery,
  SearchStore,
} from '../storage/storage.js';
import type { MembershipReader, RoomStateReader, StateHistoryReader } from '../storage/readers.js';
import type { EventViews, Viewer } from '../sync/event-views.js';
import { eventMatchesFilter, roomMatchesFilter } from '../sync/filters.js';
import type { HistoryService } from '../sync/history-service.js';
import type { Notifier } from '../sync/notifier.js';
import type { RoomHistory } from '../sync/room-history.js';
import { encodeSyncToken } from '../sync/stream-token.js';
import { stateMapKey } from '../events/auth/auth-state.js';
import {
  decodePageToken,
  encodePageToken,
  type EventContextRequest,
  type GroupKey,
  highlightsFor,
  parseSearchBody,
  type RoomEventsSearch,
  type SearchPageToken,
} from './search-rules.js';

/** Candidates read from the index at most per request: a search visibility filters away stays cheap. */
const MAX_SCANNED = 1_000;

export interface SearchServiceStorage {
  rooms: MembershipReader & RoomStateReader & StateHistoryReader;
  search: SearchStore;
}

interface Found {
  hit: SearchHit;
  event: EventRecord;
}

interface FoundPage {
  found: Found[];
  /** Where the next page starts; undefined when the candidates ran out. */
  next: number | undefined;
}

export class SearchService {
  constructor(
    private readonly storage: SearchServiceStorage,
    private readonly views: EventViews,
    private readonly history: RoomHistory,
    private readonly readable: Pick<HistoryService, 'readLimit' | 'state'>,
    private readonly notifier: Notifier,
  ) {}

  async search(viewer: Viewer, body: unknown, nextBatch: string | undefined): Promise<JsonObject> {
    const request = parseSearchBody(body);
    if (!request) return { search_categories: {} };
    const token = nextBatch === undefined ? undefined : decodePageToken(nextBatch, request.orderBy);
    const query: SearchQuery = {
      terms: request.terms,
      keys: request.keys,
      rooms: await this.searchedRooms(viewer.userId, request, token),
      ...(token?.group?.key === 'sender' ? { sender: token.group.value } : {}),
    };
    const page = await this.collect(viewer.userId, query, request, token);
    const roomEvents: JsonObject = {
      results: await this.results(viewer, page.found, request),
      count: await this.storage.search.count(query),
      highlights: highlightsFor(request.terms, page.found.map(textOf)),
    };
    const nextToken = (group?: SearchPageToken['group']) =>
      encodePageToken({ order: request.orderBy, position: page.next!, ...(group && { group }) });
    if (page.next !== undefined) roomEvents.next_batch = nextToken(token?.group);
    if (request.groupBy.length > 0) {
      roomEvents.groups = groupsOf(page.found, request.groupBy, (key, value) =>
        page.next === undefined ? undefined : nextToken({ key, value }),
      );
    }
    if (request.includeState) roomEvents.state = await this.statesOf(viewer, page.found);
    return { search_categories: { room_events: roomEvents } };
  }

  /** The user's joined and left rooms the filter (and a room group's token) allows, with read limits. */
  private async searchedRooms(
    userId: string,
    request: RoomEventsSearch,
    token: SearchPageToken | undefined,
  ): Promise<SearchedRoom[]> {
    const now = this.notifier.currentPositions().roomEvents;
    const allowed = (roomId: string) =>
      (!request.filter || roomMatchesFilter(roomId, request.filter)) &&
      (token?.group?.key !== 'room_id' || token.group.value === roomId);
    // A member reads up to now (as readLimit answers for them, without its lookups).
    const joined = (await this.storage.rooms.roomsWithMembership(userId, 'join')).filter(allowed);
    const rooms: SearchedRoom[] = joined.map((roomId) => ({ roomId, upTo: now }));
    const left = (await this.storage.rooms.roomsWithMembership(userId, 'leave')).filter(allowed);
    for (const roomId of left) {
      const upTo = await this.readable.readLimit(roomId, userId, now);
      if (upTo !== undefined) rooms.push({ roomId, upTo });
    }
    return rooms;
  }

  /**
   * Reads the index page by page until `limit` candidates pass or it runs out
   * (or MAX_SCANNED were read): the next page resumes after the last one read.
   */
  private async collect(
    userId: string,
    query: SearchQuery,
    request: RoomEventsSearch,
    token: SearchPageToken | undefined,
  ): Promise<FoundPage> {
    const order = request.orderBy;
    let position = token?.position ?? (order === 'rank' ? 0 : Number.MAX_SAFE_INTEGER);
    const found: Found[] = [];
    let scanned = 0;
    const ignored = await this.history.ignoredBy(userId);
    while (found.length < request.limit && scanned < MAX_SCANNED) {
      const pageSize = Math.min(2 * request.limit + 1, MAX_SCANNED - scanned);
      const hits = await this.storage.search.search({
        ...query,
        order,
        limit: pageSize,
        ...(order === 'rank' ? { offset: position } : { before: position }),
      });
      const events = new Map(
        (await this.storage.rooms.getEvents(hits.map((hit) => hit.eventId))).map((e) => [
          e.eventId,
          e,
        ]),
      );
      let read = 0;
      for (const hit of hits) {
        read += 1;
        position = order === 'rank' ? position + 1 : hit.streamOrdering;
        const event = events.get(hit.eventId);
        if (event && (await this.passes(userId, event, request, ignored))) {
          found.push({ hit, event });
          if (found.length === request.limit) break;
        }
      }
      scanned += read;
      if (hits.length < pageSize && read === hits.length) return { found, next: undefined };
    }
    return { found, next: position };
  }

  private async passes(
    userId: string,
    event: EventRecord,
    request: RoomEventsSearch,
    ignored: ReadonlySet<string>,
  ): Promise<boolean> {
    // The index drops redacted events in the redaction's transaction; this guards the rest.
    if (event.redactedBy !== undefined) return false;
    if (request.filter && !eventMatchesFilter(event.pdu, request.filter, event.roomId)) {
      return false;
    }
    if (event.pdu.state_key === undefined && ignored.has(event.pdu.sender)) return false;
    return this.history.isVisible(userId, event);
  }

  private async results(
    viewer: Viewer,
    found: Found[],
    request: RoomEventsSearch,
  ): Promise<JsonObject[]> {
    const views = await this.views.forClient(
      found.map((f) => f.event),
      viewer,
    );
    const results: JsonObject[] = [];
    for (const [i, { hit, event }] of found.entries()) {
      const result: JsonObject = { rank: hit.rank, result: views[i] as unknown as JsonObject };
      if (request.context) result.context = await this.contextOf(viewer, event, request.context);
      results.push(result);
    }
    return results;
  }

  /** The events around a result the user may see, as /context finds them, and its senders' profiles. */
  private async contextOf(
    viewer: Viewer,
    event: EventRecord,
    wanted: EventContextRequest,
  ): Promise<JsonObject> {
    const now = this.notifier.currentPositions();
    const upTo = (await this.readable.readLimit(event.roomId, viewer.userId, now.roomEvents)) ?? 0;
    const read = { roomId: event.roomId, userId: viewer.userId };
    const before = await this.history.newest({
      ...read,
      limit: wanted.beforeLimit,
      after: 0,
      upTo: event.streamOrdering - 1,
    });
    const after = await this.history.oldest({
      ...read,
      limit: wanted.afterLimit,
      after: event.streamOrdering,
      upTo: Math.max(upTo, event.streamOrdering),
    });
    const token = (position: number) => encodeSyncToken({ ...now, roomEvents: position });
    const context: JsonObject = {
      start: token((before.events[0] ?? event).streamOrdering - 1),
      end: token(after.events.at(-1)?.streamOrdering ?? event.streamOrdering),
      events_before: await this.views.forClient([...before.events].reverse(), viewer),
      events_after: await this.views.forClient(after.events, viewer),
    };
    if (wanted.includeProfile) {
      const senders = [...before.events, event, ...after.events].map((e) => e.pdu.sender);
      context.profile_info = await this.profilesAt(event, senders);
    }
    return context;
  }

  /** The senders' display names and avatars in the room's state after the event (historic profiles). */
  private async profilesAt(event: EventRecord, senders: string[]): Promise<JsonObject> {
    const state = (await this.storage.rooms.stateIdsAfter(event.eventId)) ?? new Map();
    const unique = [...new Set(senders)];
    const memberIds = unique.flatMap(
      (sender) => state.get(stateMapKey('m.room.member', sender)) ?? [],
    );
    const profiles: JsonObject = {};
    for (const member of await this.storage.rooms.getEvents(memberIds)) {
      const content = member.pdu.content as JsonObject;
      const profile: JsonObject = {};
      if (typeof content.displayname === 'string') profile.displayname = content.displayname;
      if (typeof content.avatar_url === 'string') profile.avatar_url = content.avatar_url;
      profiles[member.pdu.state_key!] = profile;
    }
    return profiles;
  }

  /** Each result room's state as the user may read it (current, or at their leave). */
  private async statesOf(viewer: Viewer, found: Found[]): Promise<JsonObject> {
    const states: JsonObject = {};
    for (const roomId of new Set(found.map((f) => f.event.roomId))) {
      const events = await this.readable.state(viewer.userId, roomId);
      states[roomId] = await this.views.forClient(events, viewer);
    }
    return states;
  }
}

function textOf(found: Found): string {
  return searchableText(found.event.pdu.type, found.event.pdu.content)?.text ?? '';
}

/**
 * The results grouped by room or sender: each group's event IDs in result
 * order, `order` its first result's place, `next_batch` the next page of
 * that group alone (when the whole has a next page: as Synapse).
 */
function groupsOf(
  found: Found[],
  keys: GroupKey[],
  nextBatch: (key: GroupKey, value: string) => string | undefined,
): JsonObject {
  const groups: JsonObject = {};
  for (const key of keys) {
    const byValue: Record<string, JsonObject> = {};
    for (const { event } of found) {
      const value = key === 'room_id' ? event.roomId : event.pdu.sender;
      const group = (byValue[value] ??= {
        results: [],
        order: Object.keys(byValue).length + 1,
      });
      (group.results as string[]).push(event.eventId);
    }
    for (const [value, group] of Object.entries(byValue)) {
      const next = nextBatch(key, value);
      if (next !== undefined) group.next_batch = next;
    }
    groups[key] = byValue;
  }
  return groups;
}
