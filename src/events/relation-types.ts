/**
 * What the relation rules (relations.ts) and the relation index in storage
 * share: the spec's relation types, the name of the main timeline, and an
 * event's relationship in the form the index stores it. The rules derive it
 * (indexedRelationOf); storage stores what it is given.
 */

export const REL_THREAD = 'm.thread';
export const REL_REPLACE = 'm.replace';
export const REL_ANNOTATION = 'm.annotation';
export const REL_REFERENCE = 'm.reference';

/** The thread ID of events outside any thread (the receipts module's name for it). */
export const MAIN_THREAD = 'main';

/** An event's relationship to its parent, as the relation index stores it. */
export interface IndexedRelation {
  relType: string;
  parentId: string;
  /** For `m.annotation`: the annotation (e.g. the emoji of a reaction). */
  key?: string;
  /** A rich reply's target inside the relation (a thread's reply fallback). */
  inReplyTo?: string;
  /** The content carries `m.new_content` (an edit's replacement content). */
  hasNewContent: boolean;
  /**
   * The thread the relation itself puts the event in (a thread event: its
   * root). Undefined: the event is in its parent's thread, whichever that is
   * when it is stored.
   */
  threadRoot?: string;
}
