/**
 * A certificate authority of a test's own, made with `openssl`: federation
 * tests (and the Synapse peer script) give servers certificates from it and
 * tell clients to trust it (`federation.ca_file`).
 *
 *   const ca = makeTestCa(dir);
 *   const cert = issueCert(ca, dir, ['peer.test', '127.0.0.1']);
 *   // cert.certPath, cert.keyPath: a server's; ca.certPath: what clients trust
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

export interface TestCa {
  /** The CA certificate (PEM): what a client trusts. */
  certPath: string;
  keyPath: string;
}

export interface IssuedCert {
  /** The server certificate (PEM), valid for the names it was issued for. */
  certPath: string;
  keyPath: string;
}

/** ECDSA P-256: quick to make, accepted by Node, Synapse and browsers alike. */
const KEY_OPTIONS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = '7';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new CA in `dir` (its certificate and key as ca.crt and ca.key). */
export function makeTestCa(dir: string): TestCa {
  mkdirSync(dir, { recursive: true });
  const certPath = path.join(dir, 'ca.crt');
  const keyPath = path.join(dir, 'ca.key');
  openssl([
    'req',
    '-x509',
    ...KEY_OPTIONS,
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    DAYS,
    '-subj',
    '/CN=Weft test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certPath, keyPath };
}

let issued = 0;

/**
 * A server certificate from `ca` for `names` (host names and IP addresses, all
 * in subjectAltName; the first is the subject's CN), written to `dir`.
 */
export function issueCert(ca: TestCa, dir: string, names: string[]): IssuedCert {
  if (names.length === 0) throw new Error('issueCert needs at least one name');
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `server-${process.pid}-${++issued}`);
  const [certPath, keyPath, csrPath, extPath] = ['.crt', '.key', '.csr', '.ext'].map(
    (suffix) => `${base}${suffix}`,
  ) as [string, string, string, string];
  const altNames = names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  writeFileSync(
    extPath,
    [
      `subjectAltName=${altNames}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(['req', ...KEY_OPTIONS, '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${names[0]}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    ca.certPath,
    '-CAkey',
    ca.keyPath,
    '-set_serial',
    String(Date.now() * 1000 + issued),
    '-out',
    certPath,
    '-days',
    DAYS,
    '-extfile',
    extPath,
  ]);
  return { certPath, keyPath };
}
