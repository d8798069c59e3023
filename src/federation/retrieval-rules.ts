/**
 * The parameters of the event-retrieval endpoints other servers call
 * (test/spec-data/api/server-server/backfill.yaml): `/get_missing_events`'s
 * body and `/backfill`'s query. Pure.
 */
import { errors } from '../protocol/errors.js';

export interface MissingEventsQuery {
  earliest: string[];
  latest: string[];
  limit: number;
  minDepth: number;
}

const DEFAULT_MISSING_LIMIT = 10;

export function parseMissingEventsBody(body: unknown): MissingEventsQuery {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.notJson('The body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  return {
    earliest: eventIdArray(fields, 'earliest_events'),
    latest: eventIdArray(fields, 'latest_events'),
    limit: optionalInteger(fields, 'limit', DEFAULT_MISSING_LIMIT),
    minDepth: optionalInteger(fields, 'min_depth', 0),
  };
}

export interface BackfillQuery {
  from: string[];
  limit: number;
}

/** `?v=` (once or repeated, at least once) and `?limit=` (required). */
export function parseBackfillQuery(query: unknown): BackfillQuery {
  const fields = (query ?? {}) as Record<string, unknown>;
  const v = fields.v;
  const from = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
  if (from.length === 0) throw errors.missingParam('v');
  if (!from.every((id) => typeof id === 'string')) throw errors.invalidParam('v must be event IDs');
  const limit = fields.limit;
  if (limit === undefined) throw errors.missingParam('limit');
  if (typeof limit !== 'string' || !/^\d+$/.test(limit) || !Number.isSafeInteger(Number(limit))) {
    throw errors.invalidParam('limit must be a non-negative integer');
  }
  return { from: from as string[], limit: Number(limit) };
}

function eventIdArray(fields: Record<string, unknown>, key: string): string[] {
  const value = fields[key];
  if (value === undefined || value === null) throw errors.missingParam(key);
  if (!Array.isArray(value) || !value.every((id) => typeof id === 'string')) {
    throw errors.badJson(`${key} must be an array of event IDs`);
  }
  return value as string[];
}

function optionalInteger(fields: Record<string, unknown>, key: string, fallback: number): number {
  const value = fields[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw errors.badJson(`${key} must be an integer`);
  }
  return value;
}
