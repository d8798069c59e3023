/**
 * "Which thread does this event belong to?" for the receipts and push code:
 * MAIN_THREAD ('main') or the thread root's event ID. For a stored event it is
 * one index lookup (RelationStore.threadOf); for an event being built, its
 * content decides, with one lookup of its parent's thread when it relates to
 * something other than a thread root (a reaction to a thread reply is in that
 * thread; a reaction to the root is in the main timeline).
 */
import type { ThreadReader } from '../storage/readers.js';
import { MAIN_THREAD, REL_THREAD, relationOf, threadIdOf } from '../events/relations.js';

export { MAIN_THREAD };

export async function threadOfContent(relations: ThreadReader, content: unknown): Promise<string> {
  const relation = relationOf(content);
  if (!relation) return MAIN_THREAD;
  const parentThread =
    relation.relType === REL_THREAD ? MAIN_THREAD : await relations.threadOf(relation.eventId);
  return threadIdOf(relation, parentThread);
}
