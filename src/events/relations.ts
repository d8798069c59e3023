/**
 * The rules of event relationships (spec: client-server API, "Forming
 * relationships between events", "Threading", "Event replacements"), pure:
 * reading `m.relates_to`, which thread an event belongs to, which edits are
 * valid and which of them is the most recent.
 */

import {
  MAIN_THREAD,
  REL_ANNOTATION,
  REL_REFERENCE,
  REL_REPLACE,
  REL_THREAD,
  type IndexedRelation,
} from './relation-types.js';

export { MAIN_THREAD, REL_ANNOTATION, REL_REFERENCE, REL_REPLACE, REL_THREAD };

/** An event's relationship to its parent, as its `content['m.relates_to']` states it. */
export interface Relation {
  relType: string;
  /** The parent event. */
  eventId: string;
  /** For `m.annotation`: the annotation (e.g. the emoji of a reaction). */
  key?: string;
  /** A rich reply's target inside the relation (a thread's reply fallback). */
  inReplyTo?: string;
}

/**
 * The relation of an event's content, or undefined. Only `rel_type` relations
 * count: a plain rich reply (`m.in_reply_to` alone) is not a relationship the
 * server indexes (the spec: replies do not use `rel_type`).
 */
export function relationOf(content: unknown): Relation | undefined {
  const relatesTo = objectField(content, 'm.relates_to');
  const relType = relatesTo?.rel_type;
  const eventId = relatesTo?.event_id;
  if (typeof relType !== 'string' || typeof eventId !== 'string') return undefined;
  const relation: Relation = { relType, eventId };
  if (relType === REL_ANNOTATION && typeof relatesTo?.key === 'string') {
    relation.key = relatesTo.key;
  }
  const inReplyTo = objectField(relatesTo, 'm.in_reply_to')?.event_id;
  if (typeof inReplyTo === 'string') relation.inReplyTo = inReplyTo;
  return relation;
}

/** The event's relationship as the relation index stores it, or undefined (relationOf). */
export function indexedRelationOf(content: unknown): IndexedRelation | undefined {
  const relation = relationOf(content);
  if (!relation) return undefined;
  const indexed: IndexedRelation = {
    relType: relation.relType,
    parentId: relation.eventId,
    hasNewContent: hasNewContent(content),
  };
  if (relation.key !== undefined) indexed.key = relation.key;
  if (relation.inReplyTo !== undefined) indexed.inReplyTo = relation.inReplyTo;
  // threadIdOf's rule: a thread event is in its root's thread, anything else in its parent's.
  if (relation.relType === REL_THREAD) indexed.threadRoot = relation.eventId;
  return indexed;
}

/**
 * Which thread an event belongs to: a thread event's root; an event relating
 * to something else (a reaction, an edit) belongs to its parent's thread;
 * anything else, thread roots included, to the main timeline. `parentThread`
 * is the thread of the relation's parent (MAIN_THREAD if unknown).
 */
export function threadIdOf(relation: Relation | undefined, parentThread: string): string {
  if (!relation) return MAIN_THREAD;
  if (relation.relType === REL_THREAD) return relation.eventId;
  return parentThread;
}

/** What the edit validity rules read of an original or a replacement event. */
export interface EditCandidate {
  eventId: string;
  roomId: string;
  sender: string;
  type: string;
  isState: boolean;
  /** The event's own rel_type, if it has one. */
  relType?: string;
  /** Whether content has an `m.new_content` object (replacements only). */
  hasNewContent?: boolean;
  originServerTs: number;
}

/**
 * The spec's "Validity of replacement events": same room, same sender, same
 * type, no state event on either side, the original is not itself an edit, and
 * the replacement carries `m.new_content` (for an encrypted replacement it is in
 * the ciphertext, so the server cannot check it).
 */
export function isValidEdit(original: EditCandidate, edit: EditCandidate): boolean {
  return (
    edit.relType === REL_REPLACE &&
    edit.roomId === original.roomId &&
    edit.sender === original.sender &&
    edit.type === original.type &&
    !original.isState &&
    !edit.isState &&
    original.relType !== REL_REPLACE &&
    (edit.hasNewContent === true || edit.type === 'm.room.encrypted')
  );
}

/**
 * The most recent of the valid edits: the greatest `origin_server_ts`, ties
 * broken by the lexicographically greatest event ID (spec).
 */
export function latestValidEdit<E extends EditCandidate>(
  original: EditCandidate,
  edits: readonly E[],
): E | undefined {
  let latest: E | undefined;
  for (const edit of edits) {
    if (!isValidEdit(original, edit)) continue;
    if (!latest || isMoreRecent(edit, latest)) latest = edit;
  }
  return latest;
}

function isMoreRecent(a: EditCandidate, b: EditCandidate): boolean {
  if (a.originServerTs !== b.originServerTs) return a.originServerTs > b.originServerTs;
  return a.eventId > b.eventId;
}

/**
 * Whether an event may receive bundled aggregations of the given kind (as
 * Synapse): state events none (spec); edits and annotations none; an event
 * that relates to another cannot be a thread root.
 */
export function mayBundle(
  event: { isState: boolean; relType?: string },
  kind: 'thread' | 'other',
): boolean {
  if (event.isState) return false;
  if (event.relType === REL_REPLACE || event.relType === REL_ANNOTATION) return false;
  return kind === 'other' || event.relType === undefined;
}

function objectField(value: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'object' && field !== null && !Array.isArray(field)
    ? (field as Record<string, unknown>)
    : undefined;
}

/** Whether content carries an `m.new_content` object. */
export function hasNewContent(content: unknown): boolean {
  return objectField(content, 'm.new_content') !== undefined;
}
