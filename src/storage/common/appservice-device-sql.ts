/** Devices application services create (MSC4190), the same SQL in both backends. */
type Placeholder = (n: number) => string;

/** A device row without a token or a last-seen time; an existing device is left as it is. */
export function createDeviceSql(p: Placeholder): string {
  return `INSERT INTO devices (user_id, device_id, display_name, last_seen_ts, last_seen_ip, created_ts)
    VALUES (${p(1)}, ${p(2)}, ${p(3)}, NULL, NULL, ${p(4)})
    ON CONFLICT (user_id, device_id) DO NOTHING`;
}
