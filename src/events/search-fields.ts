/**
 * What an event gives server-side search, by the spec's search keys: the
 * string `body` of m.room.message, `name` of m.room.name, `topic` of
 * m.room.topic (the three Synapse indexes too). The room stores write it into
 * the search index with the event; encrypted events have none.
 */
export type SearchKey = 'content.body' | 'content.name' | 'content.topic';
export const SEARCH_KEYS: readonly SearchKey[] = ['content.body', 'content.name', 'content.topic'];

const FIELD_OF_TYPE: Record<string, { key: SearchKey; field: string }> = {
  'm.room.message': { key: 'content.body', field: 'body' },
  'm.room.name': { key: 'content.name', field: 'name' },
  'm.room.topic': { key: 'content.topic', field: 'topic' },
};

/** The event's searchable text and its key; undefined when it has none. */
export function searchableText(
  type: string,
  content: unknown,
): { key: SearchKey; text: string } | undefined {
  const spec = FIELD_OF_TYPE[type];
  if (!spec || typeof content !== 'object' || content === null) return undefined;
  const text = (content as Record<string, unknown>)[spec.field];
  return typeof text === 'string' && text.trim() !== '' ? { key: spec.key, text } : undefined;
}
