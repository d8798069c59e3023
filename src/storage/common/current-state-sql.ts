/**
 * `current_state cs` with each entry's event JSON, wherever the event is held:
 * on the stream (`events`) or off it (`off_stream_events`: the state a join over
 * federation brought, stored as outliers). Reading only `events` would miss a
 * remote room's name, join rules or avatar. Both are index lookups by event ID;
 * `STATE_EVENT_JSON` is the JSON column to read. The same SQL on both backends.
 */
export const CURRENT_STATE_WITH_JSON = `current_state cs
  LEFT JOIN events cs_stream ON cs_stream.event_id = cs.event_id
  LEFT JOIN off_stream_events cs_held ON cs_held.event_id = cs.event_id`;

export const STATE_EVENT_JSON = 'coalesce(cs_stream.json, cs_held.json)';
