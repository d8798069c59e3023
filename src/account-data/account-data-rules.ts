/**
 * The rules of account data, pure: which types clients may not write, room ID
 * syntax, the ignored-user list, and tag edits of `m.tag`.
 */
import { errors, MatrixError } from '../protocol/errors.js';

export type AccountDataContent = Record<string, unknown>;

/** Types the server controls: readable through the endpoints, written only by their own APIs. */
const SERVER_CONTROLLED: ReadonlySet<string> = new Set(['m.fully_read', 'm.push_rules']);

export const IGNORED_USER_LIST = 'm.ignored_user_list';
export const TAGS = 'm.tag';
export const FULLY_READ = 'm.fully_read';
export const PUSH_RULES = 'm.push_rules';

/** PUT of a server-controlled type: 405 M_BAD_JSON, as the spec says. */
export function checkClientWritable(type: string): void {
  if (SERVER_CONTROLLED.has(type)) {
    throw new MatrixError(405, 'M_BAD_JSON', `Cannot set ${type} through this API`);
  }
}

/** A type is an event type: non-empty, and bounded so no client can bloat storage. */
export function checkType(type: string): void {
  if (type.length === 0 || Buffer.byteLength(type) > 255) {
    throw errors.invalidParam('Invalid account data type');
  }
}

/** Room IDs: `!` then an opaque part (v12 room IDs have no server name), at most 255 bytes. */
export function checkRoomId(roomId: string): void {
  if (!/^![^\s:]+(:\S+)?$/.test(roomId) || Buffer.byteLength(roomId) > 255) {
    throw errors.invalidParam(`Invalid room ID: ${roomId}`);
  }
}

/** The user IDs an `m.ignored_user_list` content names (keys of `ignored_users`). */
export function ignoredUsersOf(content: AccountDataContent | undefined): Set<string> {
  const ignored = content?.ignored_users;
  if (typeof ignored !== 'object' || ignored === null || Array.isArray(ignored)) return new Set();
  return new Set(Object.keys(ignored));
}

/** `ignored_users` must be an object (Synapse refuses anything else with M_BAD_JSON). */
export function checkIgnoredUserList(content: AccountDataContent): void {
  const ignored = content.ignored_users;
  if (typeof ignored !== 'object' || ignored === null || Array.isArray(ignored)) {
    throw errors.badJson('ignored_users must be an object');
  }
}

/** The tags of an `m.tag` content (`{tags: {name: {order?}}}`). */
export function tagsOf(
  content: AccountDataContent | undefined,
): Record<string, AccountDataContent> {
  const tags = content?.tags;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return {};
  return tags as Record<string, AccountDataContent>;
}

/** The tag's body as stored: its object as given, `order` (if any) a number. */
export function checkTagBody(tag: string, body: AccountDataContent): void {
  if (tag.length === 0 || Buffer.byteLength(tag) > 255) throw errors.invalidParam('Invalid tag');
  if (body.order !== undefined && typeof body.order !== 'number') {
    throw errors.badJson('order must be a number');
  }
}

export function withTag(
  content: AccountDataContent | undefined,
  tag: string,
  body: AccountDataContent,
): AccountDataContent {
  return { tags: { ...tagsOf(content), [tag]: body } };
}

export function withoutTag(
  content: AccountDataContent | undefined,
  tag: string,
): AccountDataContent {
  const tags = { ...tagsOf(content) };
  delete tags[tag];
  return { tags };
}
