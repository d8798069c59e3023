/** Rooms two users share (GET /v1/mutual_rooms): a query over rooms' current membership. */
export interface MutualRoomStore {
  /** The rooms both users are joined to now, sorted by room ID (code unit order). */
  mutualRooms(userA: string, userB: string): Promise<string[]>;
}
