/** Checking a user's password, shared by /login and the UIA password stage. */
import type { UserReader } from '../storage/readers.js';
import type { UserRecord } from '../storage/storage.js';
import { errors } from '../protocol/errors.js';
import { verifyAgainstDummy, verifyPassword } from './passwords.js';

/**
 * The user if the password is right. Unknown users and wrong passwords both get
 * 403 M_FORBIDDEN after the same amount of hashing work, so neither the answer
 * nor its timing tells which user IDs exist.
 */
export async function checkPassword(
  storage: { users: UserReader },
  userId: string | undefined,
  password: string,
): Promise<UserRecord> {
  const user = userId === undefined ? undefined : await storage.users.getUser(userId);
  const matches = user?.passwordHash
    ? await verifyPassword(user.passwordHash, password)
    : await verifyAgainstDummy(password);
  if (!user || !matches) throw errors.forbidden('Invalid username or password');
  if (user.deactivated) throw errors.userDeactivated();
  return user;
}
