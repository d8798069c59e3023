/**
 * Reading request bodies and query strings field by field, with the spec's
 * error codes: missing → M_MISSING_PARAM, wrong type → M_BAD_JSON (body) or
 * M_INVALID_PARAM (query).
 */
import { errors } from './errors.js';

export type JsonObject = Record<string, unknown>;

/** The body as a JSON object; an absent body counts as `{}` only where allowed. */
export function objectBody(body: unknown, { allowEmpty = false } = {}): JsonObject {
  if (body === undefined) {
    if (allowEmpty) return {};
    throw errors.notJson('Request body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.badJson('Request body must be a JSON object');
  }
  return body as JsonObject;
}

export function requiredString(obj: JsonObject, key: string, where = ''): string {
  const value = obj[key];
  if (value === undefined || value === null) throw errors.missingParam(where + key);
  if (typeof value !== 'string') throw errors.badJson(`${where}${key} must be a string`);
  return value;
}

export function optionalString(obj: JsonObject, key: string, where = ''): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw errors.badJson(`${where}${key} must be a string`);
  return value;
}

export function optionalBoolean(obj: JsonObject, key: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw errors.badJson(`${key} must be a boolean`);
  return value;
}

export function optionalObject(obj: JsonObject, key: string): JsonObject | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw errors.badJson(`${key} must be an object`);
  return value as JsonObject;
}

export function requiredStringArray(obj: JsonObject, key: string): string[] {
  const value = obj[key];
  if (value === undefined || value === null) throw errors.missingParam(key);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw errors.badJson(`${key} must be an array of strings`);
  }
  return value as string[];
}

/** A query parameter; repeated parameters are refused rather than guessed at. */
export function queryString(query: unknown, key: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw errors.invalidParam(`Query parameter ${key} must be given once`);
  return value;
}

/** A required query parameter that is a whole number (a timestamp, say): 400 otherwise. */
export function requiredIntegerQuery(query: unknown, key: string): number {
  const value = queryString(query, key);
  if (value === undefined) throw errors.missingParam(key);
  const parsed = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(parsed)) throw errors.invalidParam(`${key} must be an integer`);
  return parsed;
}

/** Device IDs and display names are bounded so that no client can bloat storage. */
export function checkLength(value: string | undefined, max: number, name: string): void {
  if (value !== undefined && value.length > max) throw errors.invalidParam(`${name} is too long`);
}
