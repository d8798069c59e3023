/**
 * Batches of writes committed one transaction at a time, in the order they
 * were handed in, for a backend whose writes are asynchronous (PostgreSQL):
 * the same contract as SQLite's writer thread (../sqlite/writer-thread.ts).
 * Callers hand the next batch in without waiting for the previous commit
 * (rooms/persist-queue.ts), and the next batch may build on the previous
 * one's events, so:
 *
 * - Batches that wait while a transaction runs share the next one (group
 *   commit: one disk sync for all), up to `maxItems` items.
 * - When a transaction fails, its batches fail, and so do the batches handed
 *   in before that failure was known here (those waiting now): they may
 *   stand on the failed ones. Batches handed in afterwards are accepted.
 */

interface Waiting<T, R> {
  items: T[];
  resolve(results: R[]): void;
  reject(err: unknown): void;
}

export class OrderedCommits<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    /** Commits the items in one transaction; resolves with one result per item, in order. */
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly maxItems: number,
  ) {}

  /** Resolves with the batch's results once its transaction has committed. */
  submit(items: T[]): Promise<R[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once every batch handed in so far has committed or failed. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) await this.commitGroup(this.takeGroup());
    this.draining = undefined;
  }

  /** The waiting batches, oldest first, while they fit in one transaction (at least one). */
  private takeGroup(): Waiting<T, R>[] {
    let items = 0;
    let count = 0;
    while (count < this.waiting.length) {
      items += this.waiting[count]!.items.length;
      if (count > 0 && items > this.maxItems) break;
      count++;
    }
    return this.waiting.splice(0, count);
  }

  private async commitGroup(group: Waiting<T, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await this.commit(group.flatMap((batch) => batch.items));
    } catch (err) {
      for (const batch of group) batch.reject(err);
      for (const batch of this.waiting.splice(0)) {
        batch.reject(new Error('An earlier event write failed'));
      }
      return;
    }
    let offset = 0;
    for (const batch of group) {
      batch.resolve(results.slice(offset, offset + batch.items.length));
      offset += batch.items.length;
    }
  }
}
