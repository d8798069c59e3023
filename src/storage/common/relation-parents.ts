/**
 * Which events stored by this process have had a child indexed since, so
 * that bundled aggregations can skip their queries for new events. Every
 * event served gets its aggregations looked up, and nearly always (a new
 * message) it has no child at all: an event stored after `floor` that is not
 * in `parents` certainly has none. Events from before `floor` (before start,
 * or before the set last started over) are unknown.
 *
 * The room store notes each commit, in commit order and before readers can
 * see it (a parent noted for a child the index then ignores, across rooms,
 * only costs a query). Backend-neutral: each backend gives the start position.
 */

/** Beyond this many parents, the set starts over (see `noteChild`). */
const MAX_TRACKED_PARENTS = 100_000;

export class RelationParents {
  private readonly parents = new Set<string>();
  private floor: number;
  private newest: number;

  /** `start`: the newest event position when the process started (0 for none). */
  constructor(start: number) {
    this.floor = start;
    this.newest = start;
  }

  /** False only when the event certainly has no child. */
  mayHaveChildren(eventId: string, streamOrdering: number): boolean {
    return streamOrdering <= this.floor || this.parents.has(eventId);
  }

  /** An event was committed at this position (noted before its children, if any). */
  noteStored(streamOrdering: number): void {
    this.newest = Math.max(this.newest, streamOrdering);
  }

  /**
   * The newest position the room store has reported committed. SQLite's
   * writer thread commits before the main thread hears of it: aggregations
   * stop here, so that no client counts a child in a parent's aggregation and
   * then again when it arrives in its timeline.
   */
  reportedUpTo(): number {
    return this.newest;
  }

  noteChild(parentId: string): void {
    if (this.parents.size >= MAX_TRACKED_PARENTS) {
      // Everything stored so far becomes unknown, which keeps the answers exact.
      this.parents.clear();
      this.floor = this.newest;
    }
    this.parents.add(parentId);
  }
}
