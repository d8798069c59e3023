/**
 * The rooms two users are both joined to, from current_state's member rows
 * (the current_state_members index on (state_key, membership) serves both
 * sides). `placeholder(n)` spells the nth parameter: `?` or `$n`.
 */
export function mutualRoomsSql(placeholder: (n: number) => string): string {
  return `SELECT a.room_id AS room_id FROM current_state a
    JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member'
      AND b.state_key = ${placeholder(2)} AND b.membership = 'join'
    WHERE a.type = 'm.room.member' AND a.state_key = ${placeholder(1)} AND a.membership = 'join'`;
}

/** Sorted here, not in SQL: PostgreSQL's collation would order room IDs differently from SQLite. */
export function sortedRoomIds(rows: { room_id: string }[]): string[] {
  return rows.map((row) => row.room_id).sort();
}
