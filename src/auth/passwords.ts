/**
 * Password hashing with argon2id. @node-rs/argon2 runs on libuv's thread pool,
 * so hashing never blocks the event loop. It is loaded at the first hash, not
 * at start (a native module: ~5 MiB and up to 100 ms of a start-up).
 */
import type * as Argon2 from '@node-rs/argon2';
import { errors } from '../protocol/errors.js';

let argon2: Promise<typeof Argon2> | undefined;
const loadArgon2 = () => (argon2 ??= import('@node-rs/argon2'));

/** OWASP's recommended minimum for argon2id: 19 MiB, 2 iterations, 1 lane. */
const MEMORY_COST_KIB = 19456;
const TIME_COST = 2;
const PARALLELISM = 1;

export async function hashPassword(password: string): Promise<string> {
  const { Algorithm, hash } = await loadArgon2();
  return hash(password, {
    algorithm: Algorithm.Argon2id,
    memoryCost: MEMORY_COST_KIB,
    timeCost: TIME_COST,
    parallelism: PARALLELISM,
  });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  const { verify } = await loadArgon2();
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
