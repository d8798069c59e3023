/**
 * Invite blocking (v1.18, MSC4380): a user whose `m.invite_permission_config`
 * says `block` gets no invites. The invite endpoints answer 403
 * M_INVITE_BLOCKED; createRoom leaves such invitees out and still makes the
 * room, as the spec allows; /sync hides invites already stored.
 */
import { MatrixError } from '../protocol/errors.js';
import type { AccountDataStore } from '../storage/storage.js';

/** The account data type of v1.18's invite permission module. */
export const INVITE_PERMISSION_CONFIG = 'm.invite_permission_config';

/** `default_action: "block"` refuses every invite; any other value or none lets them through. */
export function blocksAllInvites(content: Record<string, unknown> | undefined): boolean {
  return content?.default_action === 'block';
}

export type InvitePermissionStorage = { accountData: Pick<AccountDataStore, 'get'> };

export async function blocksInvites(
  storage: InvitePermissionStorage,
  userId: string,
): Promise<boolean> {
  const record = await storage.accountData.get(userId, undefined, INVITE_PERMISSION_CONFIG);
  return blocksAllInvites(record?.content);
}

/** 403 M_INVITE_BLOCKED when `invitee` blocks invites. */
export async function refuseBlockedInvite(
  storage: InvitePermissionStorage,
  invitee: string,
): Promise<void> {
  if (await blocksInvites(storage, invitee)) {
    throw new MatrixError(403, 'M_INVITE_BLOCKED', `${invitee} does not accept invites`);
  }
}

/** The invitees who accept invites, in their order. */
export async function acceptingInvitees(
  storage: InvitePermissionStorage,
  invitees: readonly string[],
): Promise<string[]> {
  const blocked = await Promise.all(invitees.map((invitee) => blocksInvites(storage, invitee)));
  return invitees.filter((_, index) => !blocked[index]);
}
