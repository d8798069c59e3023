/** PostgreSQL sequences as the source of stream positions (../common/stream-positions.ts). */
import type { SequenceSource } from '../common/stream-positions.js';
import { StreamPositions } from '../common/stream-positions.js';
import type { PgExecutor } from './database.js';

/** The sequence's values; `name` is a sequence of Weft's schema, never user input. */
export function sequenceSource(db: PgExecutor, name: string): SequenceSource {
  return {
    current: async () => {
      const row = await db.row<{ last_value: number; is_called: boolean }>(
        `SELECT last_value, is_called FROM ${name}`,
      );
      return row?.is_called ? row.last_value : 0;
    },
    take: async (count) => {
      const rows = await db.rows<{ value: number }>(
        `SELECT nextval('${name}') AS value FROM generate_series(1, $1::int) ORDER BY 1`,
        [count],
      );
      return rows.map((row) => row.value);
    },
  };
}

/** A stream whose positions come from the sequence, published as they settle. */
export async function openStream(db: PgExecutor, sequence: string): Promise<StreamPositions> {
  const source = sequenceSource(db, sequence);
  return new StreamPositions(await source.current(), (count) => source.take(count));
}
