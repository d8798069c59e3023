/**
 * SQL for "who shares a room with whom", read from the rooms' current state
 * (joined members only): presence and device lists both need it. Pieces of
 * statements, which each store prepares as part of its own.
 */

/** Everyone joined to a room the `?` user is joined to, the user included (once per room). */
export const ROOM_MATES = `
  SELECT mate.state_key FROM current_state mine
  JOIN current_state mate ON mate.room_id = mine.room_id
    AND mate.type = 'm.room.member' AND mate.membership = 'join'
  WHERE mine.type = 'm.room.member' AND mine.state_key = ? AND mine.membership = 'join'`;

/**
 * A condition: `other` (a column, or a `?` bound before the user's) is joined
 * to a room that the `?` user is joined to: one covering index lookup per
 * room of the user, stopping at the first shared room.
 */
export function sharesRoom(other: string): string {
  return `EXISTS (
    SELECT 1 FROM current_state mine
    JOIN current_state mate ON mate.room_id = mine.room_id AND mate.type = 'm.room.member'
      AND mate.state_key = ${other} AND mate.membership = 'join'
    WHERE mine.type = 'm.room.member' AND mine.state_key = ? AND mine.membership = 'join')`;
}
