/**
 * Positions for backfilled events (NewRoomEvent.backfillPosition), as
 * Synapse's backfill stream: they count down from -1, below every position
 * the event stream gives (which count up from 1), so a batch fetched further
 * back in a room's history always reads before the batches fetched earlier.
 *
 * Handed out in memory, from the lowest position stored when first asked:
 * this process is the only one writing events (see docs/ARCHITECTURE.md,
 * "Several processes"), and a position reserved but not used is only a gap.
 */
export class BackfillPositions {
  private lowest: number | undefined;

  constructor(
    /** The lowest stream_ordering stored (0 when none is below 1). */
    private readonly lowestStored: () => Promise<number>,
  ) {}

  /** `count` fresh positions, highest first. */
  async reserve(count: number): Promise<number[]> {
    if (this.lowest === undefined) {
      const stored = Math.min(0, await this.lowestStored());
      // Another reservation may have started while this one read storage.
      this.lowest = Math.min(this.lowest ?? 0, stored);
    }
    const positions: number[] = [];
    for (let i = 0; i < count; i++) positions.push(--this.lowest);
    return positions;
  }
}
