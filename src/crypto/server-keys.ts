/**
 * The server's long-lived secrets, generated on first start and kept in the
 * data folder: the ed25519 signing key (for events and federation) and the
 * secret that signs login tokens.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SigningKey {
  /** e.g. `ed25519:a_XyZ1` */
  keyId: string;
  privateKey: KeyObject;
  /** Unpadded standard base64 of the raw 32-byte public key, as the spec writes keys. */
  publicKeyBase64: string;
}

export interface ServerKeys {
  signingKey: SigningKey;
  loginTokenSecret: Buffer;
}

// PKCS#8 DER prefix of an ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function loadOrCreateServerKeys(dataDir: string, serverName: string): ServerKeys {
  return {
    signingKey: loadOrCreateSigningKey(path.join(dataDir, `${serverName}.signing.key`)),
    loginTokenSecret: loadOrCreateSecret(path.join(dataDir, 'login_token.secret')),
  };
}

/** The file holds one line, `ed25519 <version> <base64 seed>`, as Synapse's signing key files do. */
function loadOrCreateSigningKey(file: string): SigningKey {
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16);
    const version = 'a_' + randomBytes(3).toString('base64url');
    writeFileSync(file, `ed25519 ${version} ${seed.toString('base64').replace(/=+$/, '')}\n`, {
      mode: 0o600,
    });
  }
  const [algorithm, version, seedBase64] = readFileSync(file, 'utf8').trim().split(/\s+/);
  if (algorithm !== 'ed25519' || !version || !seedBase64) {
    throw new Error(`${file} is not an ed25519 signing key file`);
  }
  const seed = Buffer.from(seedBase64, 'base64');
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const rawPublic = createPublicKey(privateKey)
    .export({ format: 'der', type: 'spki' })
    .subarray(12);
  return {
    keyId: `ed25519:${version}`,
    privateKey,
    publicKeyBase64: rawPublic.toString('base64').replace(/=+$/, ''),
  };
}

function loadOrCreateSecret(file: string): Buffer {
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}
