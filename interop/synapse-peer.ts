/**
 * A real Synapse for interoperability tests and comparison benchmarks, through
 * scripts/synapse-peer.sh (a Debian sid chroot; docs/interop.md). Needs root.
 *
 * Federation setup (what a Weft facing a peer needs too): one test CA for every
 * server (`makeCertificates`), server names with an explicit port
 * (`synapse.test:18450`), so that no .well-known or SRV lookup is involved, and
 * each server told where the others' names point (`peers` here; Weft's
 * federation host overrides on its side).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SYNAPSE_PEER_SCRIPT = fileURLToPath(
  new URL('../scripts/synapse-peer.sh', import.meta.url),
);

/** The chroot the script installs into (its default). */
export const SYNAPSE_ROOT = process.env.WEFT_SYNAPSE_ROOT || '/var/cache/weft/synapse-sid';

/** Installing takes a couple of minutes on a fresh machine. */
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const START_TIMEOUT_MS = 3 * 60_000;

export interface SynapsePeerOptions {
  /** Synapse's server_name, with an explicit port equal to `port`: `synapse.test:18450`. */
  serverName: string;
  /** The TLS listener (client + federation); plain HTTP on `port + 1`. */
  port: number;
  /** Synapse's data folder (config, keys, database, logs); made if missing. */
  dataDir: string;
  /** The CA that peers' certificates chain to; with `certFile`/`keyFile` this server's own. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Other servers' names (with their port) → the IP address Synapse reaches them at. */
  peers?: Record<string, string>;
  /** A PostgreSQL database Synapse accepts (`createSynapseDatabase`); SQLite if absent. */
  postgresUrl?: string;
  /** Python's level for Synapse's root logger: INFO logs every request. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
}

export interface SynapsePeer {
  serverName: string;
  /** `http://127.0.0.1:<port + 1>`: the client API without TLS. */
  clientUrl: string;
  /** `https://<host>:<port>`: what federating servers connect to. */
  federationUrl: string;
  dataDir: string;
  /** The CA file Synapse trusts for federation. */
  caFile: string;
  /** Synapse's process (for /proc: CPU, memory). */
  pid: number;
  /** Milliseconds from the start command to /health answering. */
  startMs: number;
  /** A user through the shared-secret registration API. */
  register(user: string, password: string, admin?: boolean): Promise<RegisteredUser>;
  stop(): Promise<void>;
}

export interface RegisteredUser {
  userId: string;
  accessToken: string;
}

/** Whether this process may run the peer (root: debootstrap, chroot, mount namespaces). */
export function canRunSynapse(): boolean {
  return process.getuid?.() === 0;
}

/** Whether the chroot is already there (install would then take a second). */
export function synapseInstalled(): boolean {
  return existsSync(path.join(SYNAPSE_ROOT, 'usr/lib/python3/dist-packages/synapse'));
}

/** Installs Synapse into the chroot if needed; the milliseconds it took. */
export async function installSynapse(): Promise<number> {
  const started = performance.now();
  await script(['install', SYNAPSE_ROOT], INSTALL_TIMEOUT_MS);
  return performance.now() - started;
}

/** A test CA and a leaf certificate per server name, in `dir`. */
export async function makeCertificates(
  dir: string,
  serverNames: string[],
): Promise<{ caFile: string; certFor(name: string): { certFile: string; keyFile: string } }> {
  await script(['cert', dir, ...serverNames], 60_000);
  return {
    caFile: path.join(dir, 'ca.pem'),
    certFor: (name) => {
      const host = name.split(':')[0]!;
      return { certFile: path.join(dir, `${host}.pem`), keyFile: path.join(dir, `${host}.key`) };
    },
  };
}

/** A database on a Weft test cluster with the C collation Synapse insists on; its URL. */
export async function createSynapseDatabase(adminUrl: string, name: string): Promise<string> {
  return (await script(['createdb', adminUrl, name], 60_000)).trim();
}

/**
 * Data folders of peers started and not stopped: Synapse runs detached, so a test
 * or bench that dies (an error, Ctrl-C) stops them on its way out.
 */
const running = new Set<string>();

function stopLeftOvers(): void {
  for (const dataDir of running) {
    spawnSync(SYNAPSE_PEER_SCRIPT, ['stop', '-', dataDir], { stdio: 'ignore' });
  }
  running.clear();
}

function watchForExit(): void {
  if (running.size > 0) return;
  process.once('exit', stopLeftOvers);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopLeftOvers();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
}

export async function startSynapsePeer(options: SynapsePeerOptions): Promise<SynapsePeer> {
  const args = ['start', options.serverName, String(options.port), options.dataDir];
  if (options.caFile) args.push('--ca', options.caFile);
  if (options.certFile) args.push('--cert', options.certFile);
  if (options.keyFile) args.push('--key', options.keyFile);
  for (const [name, address] of Object.entries(options.peers ?? {})) {
    args.push('--weft-host', `${name}=${address}`);
  }
  if (options.postgresUrl) args.push('--pg', options.postgresUrl);
  if (options.logLevel) args.push('--log-level', options.logLevel);
  const started = performance.now();
  watchForExit();
  running.add(options.dataDir);
  const printed = keyValues(
    await script(args, START_TIMEOUT_MS).catch((err: unknown) => {
      running.delete(options.dataDir);
      throw err;
    }),
  );
  const startMs = performance.now() - started;
  const stopArgs = ['stop', options.serverName, options.dataDir];
  return {
    serverName: options.serverName,
    clientUrl: printed.client_url!,
    federationUrl: printed.federation_url!,
    dataDir: options.dataDir,
    caFile: printed.ca!,
    pid: Number(printed.pid),
    startMs,
    register: async (user, password, admin = false) => {
      const out = keyValues(
        await script(
          ['register', options.serverName, options.dataDir, user, password].concat(
            admin ? ['--admin'] : [],
          ),
          60_000,
        ),
      );
      return { userId: out.user_id!, accessToken: out.access_token! };
    },
    stop: async () => {
      await script(stopArgs, 60_000);
      running.delete(options.dataDir);
    },
  };
}

/** A port P such that P and P + 1 were both free a moment ago (TLS and plain listeners). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (port < 65535 && (await listenOnce(port + 1).catch(() => 0)) === port + 1) return port;
  }
  throw new Error('no two consecutive free ports found');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

async function script(args: string[], timeout: number): Promise<string> {
  try {
    const { stdout } = await run(SYNAPSE_PEER_SCRIPT, args, { timeout, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const failed = err as { stderr?: string; message: string };
    throw new Error(`synapse-peer.sh ${args[0]} failed: ${failed.stderr || failed.message}`, {
      cause: err,
    });
  }
}

/** `key=value` lines → a record. */
function keyValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values[line.slice(0, at)] = line.slice(at + 1);
  }
  return values;
}
