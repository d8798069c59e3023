/**
 * Stored sync filters (spec: "Filtering"): uploading and downloading them, and
 * turning the `filter` parameter of /sync (an ID or inline JSON) into a
 * validated SyncFilter. Validation is filters.ts's; this adds storage and IDs.
 */
import { errors } from '../protocol/errors.js';
import type { FilterStore } from '../storage/storage.js';
import {
  DEFAULT_SYNC_FILTER,
  isInlineFilter,
  parseInlineJson,
  parseSyncFilter,
  type SyncFilter,
} from './filters.js';

/** Parsed stored filters kept in memory: /sync names the same one at every call. */
const CACHE_SIZE = 10_000;

/** The IDs this server issues: decimal integers, written without leading zeros. */
const FILTER_ID = /^(0|[1-9]\d{0,14})$/;

export class FilterService {
  /** (filter ID, user) → parsed filter; stored filters never change, so it is never stale. */
  private readonly cache = new Map<string, SyncFilter>();

  constructor(private readonly store: FilterStore) {}

  /** Validates and stores a filter definition; returns its ID. Refusals are 400 M_BAD_JSON. */
  async create(userId: string, body: unknown): Promise<string> {
    parseSyncFilter(body, 'body');
    // Kept as the client wrote it, so that GET gives back exactly its own definition.
    const filterId = await this.store.add(userId, JSON.stringify(body));
    return String(filterId);
  }

  /**
   * The definition as uploaded. An ID this server never issued (not a number
   * included) is 404 M_NOT_FOUND, the one error the spec lists for this
   * endpoint. Synapse answers a non-numeric ID with 400 M_UNKNOWN "Invalid
   * filter_id" only because it parses IDs as integers; matrix-js-sdk handles
   * both codes alike (it uploads the filter again).
   */
  async get(userId: string, filterId: string): Promise<unknown> {
    const text = await this.storedText(userId, filterId);
    if (text === undefined) throw errors.notFound('No such filter');
    return JSON.parse(text) as unknown;
  }

  /**
   * The filter a /sync `filter` query parameter names: none → the default;
   * starting with `{` → inline JSON, validated; otherwise a stored filter's ID.
   * An unknown ID is 400 M_INVALID_PARAM "No such filter", as Synapse answers
   * (the spec names no error for it; it is a bad query parameter).
   */
  async resolve(userId: string, filterParam: string | undefined): Promise<SyncFilter> {
    if (filterParam === undefined) return DEFAULT_SYNC_FILTER;
    if (isInlineFilter(filterParam)) return parseSyncFilter(parseInlineJson(filterParam), 'query');
    const key = `${filterParam} ${userId}`;
    const cached = this.cache.get(key);
    if (cached) return this.remember(key, cached);
    const text = await this.storedText(userId, filterParam);
    if (text === undefined) throw errors.invalidParam('No such filter');
    return this.remember(key, parseSyncFilter(JSON.parse(text) as unknown, 'query'));
  }

  private async storedText(userId: string, filterId: string): Promise<string | undefined> {
    if (!FILTER_ID.test(filterId)) return undefined;
    return this.store.get(userId, Number(filterId));
  }

  /** Least recently used goes first: a Map iterates in insertion order. */
  private remember(key: string, filter: SyncFilter): SyncFilter {
    this.cache.delete(key);
    this.cache.set(key, filter);
    if (this.cache.size > CACHE_SIZE) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return filter;
  }
}
