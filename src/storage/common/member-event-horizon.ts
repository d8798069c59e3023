/**
 * Whether a stretch of the event stream holds a member event, answered from
 * memory for the stretch already looked at. Incremental syncs ask it for the
 * few events since their last one (a sync woken by a message: none), and
 * fifty syncs woken by one send would otherwise each run the same two range
 * queries (e2ee device lists) on PostgreSQL.
 *
 * Exact because a committed stretch never changes: events are only inserted,
 * and no position at or below `committedUpTo()` is still being written
 * (PostgreSQL: the events stream's persisted position, stream-positions.ts;
 * SQLite: MAX(stream_ordering) of its one writer's AUTOINCREMENT, read
 * outside any transaction, so the writer thread's uncommitted rows are unseen). The stretch grows forward to that point and back to
 * the oldest `after` asked of it; a range past the committed point is not
 * known, and the caller runs its query.
 */
export class MemberEventHorizon {
  private known = false;
  private from = 0;
  private to = 0;
  /** The newest member event's position in (from, to]; `from` when it has none. */
  private newest = 0;
  /** Learning one at a time: syncs woken together wait for one query. */
  private learning: Promise<void> = Promise.resolve();

  constructor(
    private readonly committedUpTo: () => number,
    /** The newest member event's position in (after, upTo], if any. */
    private readonly newestMemberIn: (after: number, upTo: number) => Promise<number | undefined>,
  ) {}

  /** True when certainly no member event has a position in (after, upTo]. */
  async noneIn(after: number, upTo: number): Promise<boolean> {
    if (upTo <= after) return true;
    if (!this.covers(after, upTo)) {
      const learnt = this.learning.then(() => this.learn(after));
      this.learning = learnt.catch(() => {});
      await learnt;
    }
    return this.covers(after, upTo) && this.newest <= after;
  }

  private covers(after: number, upTo: number): boolean {
    return this.known && this.from <= after && upTo <= this.to;
  }

  /** Extends the stretch forward to the committed point, and back to `after`. */
  private async learn(after: number): Promise<void> {
    const committed = this.committedUpTo();
    if (!this.known) {
      this.from = this.to = this.newest = Math.min(after, committed);
      this.known = true;
    }
    if (committed > this.to) {
      const newer = await this.newestMemberIn(this.to, committed);
      if (newer !== undefined) this.newest = newer;
      this.to = committed;
    }
    if (after < this.from) {
      // Only while the stretch has none: an older one cannot be the newest.
      if (this.newest === this.from)
        this.newest = (await this.newestMemberIn(after, this.from)) ?? after;
      this.from = after;
    }
  }
}
