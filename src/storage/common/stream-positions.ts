/**
 * Positions of one stream (events, account data, receipts, ...) for a backend
 * whose writers commit concurrently (PostgreSQL: several pool connections, later
 * several processes). A position is handed out before its transaction starts,
 * and readers are told of it only once every lower position has committed or
 * failed ("persisted up to", as Synapse's multi-writer ID generators): a sync
 * that reads (since, persistedUpTo] can never skip a row that commits later
 * with a lower position.
 *
 * Allocation is serialised per stream, so within this process positions are
 * registered here in the order the database gave them out, before any of them
 * can commit. `run` resolves only when its position is persisted up to, so
 * whoever tells the notifier of a write's position tells of every lower one too.
 *
 * Several processes: each would publish its own persisted-up-to position per
 * stream in a table (and on the bus that wakes the others' notifiers), and a
 * reader's upper bound would be the lowest of the live writers' positions; see
 * docs/ARCHITECTURE.md, "Stream positions".
 */
export class StreamPositions {
  /** Positions handed out whose writes have not finished, in ascending order. */
  private readonly pending: number[] = [];
  /** Every position at or below this has committed or failed. */
  private persisted: number;
  /** The highest position handed out (or found at start). */
  private highest: number;
  private allocating: Promise<unknown> = Promise.resolve();
  private readonly waiters: { position: number; resolve: () => void }[] = [];

  constructor(
    /** The position every earlier write reached (the stream's newest at start). */
    start: number,
    /** Takes `count` fresh ascending positions from the database (a sequence). */
    private readonly take: (count: number) => Promise<number[]>,
  ) {
    this.persisted = start;
    this.highest = start;
  }

  /** What readers may read up to: every position at or below it is settled. */
  persistedUpTo(): number {
    return this.persisted;
  }

  /**
   * Runs `write` with `count` fresh positions; resolves with its result once
   * every position up to its last is settled. A failed write still releases
   * its positions (they stay a gap in the stream) and rethrows.
   */
  async run<T>(count: number, write: (positions: number[]) => Promise<T>): Promise<T> {
    const positions = await this.allocate(count);
    try {
      const result = await write(positions);
      this.release(positions);
      await this.reached(positions[positions.length - 1]!);
      return result;
    } catch (err) {
      this.release(positions);
      throw err;
    }
  }

  /** Resolves once every position up to `position` is settled. */
  reached(position: number): Promise<void> {
    if (this.persisted >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  private allocate(count: number): Promise<number[]> {
    const allocation = this.allocating.then(async () => {
      const positions = await this.take(count);
      let previous = this.highest;
      for (const position of positions) {
        if (position <= previous) {
          throw new Error(`stream position ${position} handed out twice or out of order`);
        }
        previous = position;
      }
      this.highest = previous;
      this.pending.push(...positions);
      return positions;
    });
    // The next allocation waits for this one, whether it succeeded or not.
    this.allocating = allocation.catch(() => {});
    return allocation;
  }

  private release(positions: number[]): void {
    for (const position of positions) {
      const index = this.pending.indexOf(position);
      if (index >= 0) this.pending.splice(index, 1);
    }
    const next = this.pending[0];
    this.persisted = next === undefined ? this.highest : next - 1;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.position <= this.persisted) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}

/** Where a stream's positions come from (a PostgreSQL sequence). */
export interface SequenceSource {
  /** The last value given out (0 before any). */
  current(): Promise<number>;
  /** `count` fresh ascending values. */
  take(count: number): Promise<number[]>;
}
