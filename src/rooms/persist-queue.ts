/**
 * Group commit: events handed in during one turn of the event loop are stored
 * in one transaction, so one disk sync covers them all. Each caller is answered
 * only after the transaction holding its event has committed, which keeps the
 * promise that nothing acknowledged is lost. If a batch fails, every event in
 * it fails, and so does any later event built on top of one of them: the
 * room's generation moves on and `onFailure` lets the builder forget its state.
 */
import type { EventRecord, NewRoomEvent, Storage } from '../storage/storage.js';

interface Queued {
  event: NewRoomEvent;
  generation: number;
  resolve(record: EventRecord): void;
  reject(err: unknown): void;
}

export class PersistQueue {
  private queue: Queued[] = [];
  private flushing = false;
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly storage: Storage,
    private readonly onFailure: (roomIds: Set<string>) => void,
    /** Told of each committed batch before any caller is answered (sync must see it first). */
    private readonly onCommitted: (records: EventRecord[]) => void = () => {},
  ) {}

  enqueue(event: NewRoomEvent): Promise<EventRecord> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, generation: this.generationOf(event.roomId), resolve, reject });
      if (this.queue.length === 1 && !this.flushing) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.commit(batch.filter((q) => this.stillValid(q)));
      }
    } finally {
      this.flushing = false;
    }
  }

  /** An event built before a failure in its room stands on events that were never stored. */
  private stillValid(queued: Queued): boolean {
    if (queued.generation === this.generationOf(queued.event.roomId)) return true;
    queued.reject(new Error('An earlier event of this room could not be stored'));
    return false;
  }

  private async commit(batch: Queued[]): Promise<void> {
    if (batch.length === 0) return;
    let records: EventRecord[];
    try {
      records = await this.storage.rooms.persistEvents(batch.map((q) => q.event));
    } catch (err) {
      const rooms = new Set(batch.map((q) => q.event.roomId));
      for (const roomId of rooms) this.generations.set(roomId, this.generationOf(roomId) + 1);
      this.onFailure(rooms);
      for (const q of batch) q.reject(err);
      return;
    }
    this.onCommitted(records);
    batch.forEach((q, i) => q.resolve(records[i]!));
  }

  private generationOf(roomId: string): number {
    return this.generations.get(roomId) ?? 0;
  }
}
