/**
 * `work` over every item with at most `limit` in flight, results in the
 * items' order. For reads that each wait on the database: on PostgreSQL a
 * few in flight overlap their round trips across the pool's connections;
 * on SQLite they cost what they cost one after another.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
