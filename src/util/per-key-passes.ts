/**
 * Background work done per key (a user), one pass at a time: kicking a key
 * whose pass is running makes it run once more when that pass ends, so a
 * change made meanwhile is never missed and two passes never overlap.
 */
export class PerKeyPasses {
  /** Keys with a pass running → whether another pass is wanted after it. */
  private readonly running = new Map<string, boolean>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    /** One pass over the key's work; returns when it is done. A throw ends the passes of the key. */
    private readonly pass: (key: string) => Promise<void>,
    /** Told when a pass threw; the key's work is left for a later kick (or start). */
    private readonly onError: (err: unknown, key: string) => void,
  ) {}

  kick(key: string): void {
    if (this.running.has(key)) {
      this.running.set(key, true);
      return;
    }
    this.running.set(key, false);
    void this.drain(key);
  }

  /** Resolves when no pass is running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(key: string): Promise<void> {
    try {
      do {
        this.running.set(key, false);
        await this.pass(key);
      } while (this.running.get(key));
    } catch (err) {
      this.onError(err, key);
    } finally {
      this.running.delete(key);
      if (this.running.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }
}
