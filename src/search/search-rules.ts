/**
 * The rules of server-side search (POST /search, search.yaml), pure: reading
 * the request body, turning the search term into index terms, what an event
 * puts in the index, the highlights, and the `next_batch` token.
 *
 * Tokenisation is the one SQLite's FTS5 `unicode61 remove_diacritics 2`
 * tokenizer applies (and the PostgreSQL index imitates): words are runs of
 * letters and digits, compared without case and without accents. Terms are
 * letters and digits only, so no user input can ever be read as query syntax.
 */
import { errors } from '../protocol/errors.js';
import {
  type JsonObject,
  objectBody,
  optionalBoolean,
  optionalObject,
} from '../protocol/params.js';
import { parseRoomEventFilter, type RoomEventFilter } from '../sync/filters.js';
import { SEARCH_KEYS, type SearchKey } from '../events/search-fields.js';

export { SEARCH_KEYS, type SearchKey };

export type SearchOrder = 'rank' | 'recent';
export type GroupKey = 'room_id' | 'sender';

/** Results per page when the filter sets no limit (Synapse's default). */
export const DEFAULT_SEARCH_LIMIT = 10;
/** The most results one page holds, whatever the filter asks. */
export const MAX_SEARCH_LIMIT = 100;
/** The spec's defaults for event_context. */
const DEFAULT_CONTEXT_LIMIT = 5;
/** Context events on either side at most: each costs reads, and clients show a few. */
const MAX_CONTEXT_LIMIT = 100;
/** Words of a search term used at most: a query of thousands of words is an attack, not a search. */
const MAX_TERMS = 32;

export interface EventContextRequest {
  beforeLimit: number;
  afterLimit: number;
  includeProfile: boolean;
}

export interface RoomEventsSearch {
  terms: string[];
  keys: readonly SearchKey[];
  filter: RoomEventFilter | undefined;
  orderBy: SearchOrder;
  limit: number;
  context: EventContextRequest | undefined;
  includeState: boolean;
  groupBy: GroupKey[];
}

/**
 * Where the next page starts: for `recent`, below a stream position; for
 * `rank`, after this many candidates of the ranked list. A group's token also
 * names the group it pages through.
 */
export interface SearchPageToken {
  order: SearchOrder;
  /** recent: the exclusive upper stream position; rank: the candidates already read. */
  position: number;
  group?: { key: GroupKey; value: string };
}

/**
 * The request body. Undefined when it asks for no category Weft searches
 * (unknown categories are ignored, as Synapse does).
 */
export function parseSearchBody(body: unknown): RoomEventsSearch | undefined {
  const json = objectBody(body);
  const categories = optionalObject(json, 'search_categories');
  if (categories === undefined) throw errors.missingParam('search_categories');
  const roomEvents = optionalObject(categories, 'room_events');
  return roomEvents === undefined ? undefined : parseRoomEvents(roomEvents);
}

function parseRoomEvents(criteria: JsonObject): RoomEventsSearch {
  const term = criteria.search_term;
  if (term === undefined || term === null) throw errors.missingParam('search_term');
  if (typeof term !== 'string') throw errors.badJson('search_term must be a string');
  const filter =
    criteria.filter === undefined || criteria.filter === null
      ? undefined
      : parseRoomEventFilter(criteria.filter, 'body');
  return {
    terms: searchTerms(term),
    keys: parseKeys(criteria.keys),
    filter,
    orderBy: parseOrder(criteria.order_by),
    // At least one: a page of none would hand out the same next_batch forever.
    limit: Math.max(1, Math.min(filter?.limit ?? DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT)),
    context: parseContext(optionalObject(criteria, 'event_context')),
    includeState: optionalBoolean(criteria, 'include_state') ?? false,
    groupBy: parseGroupings(optionalObject(criteria, 'groupings')),
  };
}

function parseKeys(value: unknown): readonly SearchKey[] {
  if (value === undefined || value === null) return SEARCH_KEYS;
  if (!Array.isArray(value)) throw errors.badJson('keys must be an array');
  for (const key of value) {
    if (!SEARCH_KEYS.includes(key as SearchKey)) {
      throw errors.badJson(`keys: ${JSON.stringify(key)} is not one of ${SEARCH_KEYS.join(', ')}`);
    }
  }
  // An empty list searches nothing; as Synapse, read it as "the default": all keys.
  return value.length === 0 ? SEARCH_KEYS : [...new Set(value as SearchKey[])];
}

function parseOrder(value: unknown): SearchOrder {
  if (value === undefined || value === null) return 'rank';
  if (value !== 'rank' && value !== 'recent') {
    throw errors.badJson('order_by must be "rank" or "recent"');
  }
  return value;
}

function parseContext(context: JsonObject | undefined): EventContextRequest | undefined {
  if (context === undefined) return undefined;
  return {
    beforeLimit: contextLimit(context, 'before_limit'),
    afterLimit: contextLimit(context, 'after_limit'),
    includeProfile: optionalBoolean(context, 'include_profile') ?? false,
  };
}

function contextLimit(context: JsonObject, key: string): number {
  const value = context[key];
  if (value === undefined || value === null) return DEFAULT_CONTEXT_LIMIT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw errors.badJson(`event_context.${key} must be a non-negative integer`);
  }
  return Math.min(value, MAX_CONTEXT_LIMIT);
}

function parseGroupings(groupings: JsonObject | undefined): GroupKey[] {
  if (groupings === undefined) return [];
  const groupBy = groupings.group_by;
  if (groupBy === undefined || groupBy === null) return [];
  if (!Array.isArray(groupBy)) throw errors.badJson('groupings.group_by must be an array');
  const keys = groupBy.map((group: unknown) => {
    const key = (group as JsonObject | null)?.key;
    if (typeof group !== 'object' || group === null || (key !== 'room_id' && key !== 'sender')) {
      throw errors.badJson('groupings.group_by: each group needs a key, "room_id" or "sender"');
    }
    return key;
  });
  return [...new Set(keys)];
}

/** Lower case, accents removed: how the index compares words. */
export function foldForSearch(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The words of a text, folded, in order (repeats kept). */
export function searchWords(text: string): string[] {
  return foldForSearch(text).match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The search term's distinct words, in order; the last one is matched as a prefix. */
export function searchTerms(term: string): string[] {
  return [...new Set(searchWords(term))].slice(0, MAX_TERMS);
}

/**
 * The words of the results that matched a term (the last term as a prefix),
 * folded: what clients should highlight. Sorted, so that answers compare.
 */
export function highlightsFor(terms: readonly string[], texts: readonly string[]): string[] {
  if (terms.length === 0) return [];
  const exact = new Set(terms.slice(0, -1));
  const prefix = terms.at(-1)!;
  const found = new Set<string>();
  for (const text of texts) {
    for (const word of searchWords(text)) {
      if (exact.has(word) || word.startsWith(prefix)) found.add(word);
    }
  }
  return [...found].sort();
}

/** The `next_batch` token: JSON in base64url, opaque to clients. */
export function encodePageToken(token: SearchPageToken): string {
  const parts: unknown[] = [token.order, token.position];
  if (token.group) parts.push(token.group.key, token.group.value);
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** A token from encodePageToken, for the order requested; anything else is M_INVALID_PARAM. */
export function decodePageToken(text: string, order: SearchOrder): SearchPageToken {
  const invalid = () => errors.invalidParam('next_batch is not a token this server gave');
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parts) || (parts.length !== 2 && parts.length !== 4)) throw invalid();
  const [tokenOrder, position, groupKey, groupValue] = parts as unknown[];
  if (tokenOrder !== order) {
    throw errors.invalidParam('next_batch was given for another order_by');
  }
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw invalid();
  }
  if (parts.length === 2) return { order, position };
  if ((groupKey !== 'room_id' && groupKey !== 'sender') || typeof groupValue !== 'string') {
    throw invalid();
  }
  return { order, position, group: { key: groupKey, value: groupValue } };
}
