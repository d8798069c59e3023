/**
 * Password hashing with argon2id. @node-rs/argon2 runs on libuv's thread pool,
 * so hashing never blocks the event loop.
 */
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { errors } from '../http/errors.js';

const OPTIONS = {
  algorithm: Algorithm.Argon2id,
  // OWASP's recommended minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as checking a real password, so that a login for an
 * unknown user cannot be told apart by timing.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword('weft-dummy-password-for-timing');
  await verifyPassword(await dummyHash, password);
  return false;
}

/** Passwords longer than this are refused before hashing (argon2 cost is per byte of input too). */
export const MAX_PASSWORD_LENGTH = 512;

/**
 * Weft's password policy: 400 M_WEAK_PASSWORD for an empty or overlong password.
 * Handlers check it before UIA (as Synapse does), so a user is not asked to
 * authenticate for a password that would be refused anyway.
 */
export function checkPasswordPolicy(password: string): void {
  if (password.length === 0) throw errors.weakPassword('Password must not be empty');
  if (password.length > MAX_PASSWORD_LENGTH) throw errors.weakPassword('Password is too long');
}
