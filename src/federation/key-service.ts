/**
 * Federation keys (server-server API, "Retrieving server keys"): our own key
 * document, other servers' verify keys (stored, else fetched from the server,
 * else from the configured notaries), and the notary endpoint's answers.
 *
 * A key lookup that finds nothing usable fetches once per server at a time
 * (concurrent lookups wait for the same fetch), and a lookup that still found
 * nothing is not tried again for a minute: a dead or lying server costs one
 * fetch a minute, not one per request it signs.
 */
import type { Logger } from 'pino';
import type { ServerKeys } from '../crypto/server-keys.js';
import type { JsonObject } from '../events/pdu.js';
import { canonicalJson } from '../events/canonical-json.js';
import { signJson } from '../events/signing.js';
import type { OldSigningKey, TrustedKeyServer } from '../config/config.js';
import type { ServerKeyRecord, ServerKeyStore } from '../storage/storage.js';
import {
  checkKeyResponse,
  freshForNotary,
  keyValidAt,
  notarySigned,
  ownDocumentDue,
  ownKeyDocument,
  type CheckedKeyResponse,
  type NotaryQuery,
} from './key-rules.js';
import type { FederationSender } from './outbound.js';
import { parseServerName } from './server-name.js';
import { LruCache } from '../util/lru-cache.js';

/** How long a lookup that found no usable key is not repeated. */
export const KEY_MISS_MEMORY_MS = 60_000;
/** Beyond this many remembered misses, the expired ones are swept. */
const MAX_REMEMBERED_MISSES = 10_000;
const KEY_FETCH_TIMEOUT_MS = 10_000;

export interface KeyServiceOptions {
  serverName: string;
  keys: Pick<ServerKeys, 'signingKey'>;
  store: ServerKeyStore;
  sender: FederationSender;
  /** `federation.trusted_key_servers`. */
  trustedKeyServers: readonly TrustedKeyServer[];
  /** `federation.key_validity_period_ms`: our document's valid_until_ts is now + this. */
  validityPeriodMs: number;
  /** `federation.old_signing_keys`. */
  oldSigningKeys: readonly OldSigningKey[];
  logger: Logger;
  clock?: () => number;
}

export class KeyService {
  private ownDocument: { validUntilTs: number; document: JsonObject } | undefined;
  /** Per server: the fetch in flight, which concurrent lookups share. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Per `server \n keyId`: until when a lookup that found nothing is not repeated. */
  private readonly misses = new Map<string, number>();
  /**
   * Stored keys by server and key ID, read once: every PDU of a transaction
   * asks for the same few. Emptied whenever keys are stored (this process is
   * storage's only writer of them).
   */
  private readonly storedKeys = new LruCache<string, ServerKeyRecord>(1_000);
  private readonly now: () => number;

  constructor(private readonly options: KeyServiceOptions) {
    this.now = options.clock ?? Date.now;
  }

  /** Our `/_matrix/key/v2/server` document, made again once half its validity is gone. */
  ownKeyDocument(now = this.now()): JsonObject {
    const { validityPeriodMs } = this.options;
    if (!this.ownDocument || ownDocumentDue(this.ownDocument.validUntilTs, validityPeriodMs, now)) {
      const validUntilTs = now + validityPeriodMs;
      const document = ownKeyDocument({
        serverName: this.options.serverName,
        signingKey: this.options.keys.signingKey,
        oldKeys: this.options.oldSigningKeys,
        validUntilTs,
      });
      this.ownDocument = { validUntilTs, document };
    }
    return this.ownDocument.document;
  }

  /**
   * The public key (unpadded base64) `serverName` signed with as `keyId`, if
   * it may verify something signed at `atTs`: stored, else fetched from the
   * server, else from the notaries. Undefined when none is found.
   */
  async verifyKeyFor(serverName: string, keyId: string, atTs: number): Promise<string | undefined> {
    if (serverName === this.options.serverName) return this.ownKey(keyId, atTs);
    const stored = await this.storedKey(serverName, keyId, atTs);
    if (stored !== undefined) return stored;
    const missKey = `${serverName}\n${keyId}`;
    if ((this.misses.get(missKey) ?? 0) > this.now()) return undefined;
    await this.shared(serverName, () => this.fetch(serverName, keyId, atTs, true));
    const fetched = await this.storedKey(serverName, keyId, atTs);
    if (fetched === undefined) this.rememberMiss(missKey);
    return fetched;
  }

  /**
   * The notary endpoint's `server_keys`: for each server asked, the responses
   * stored for the keys asked (all when none), fetched again from the server
   * first when they are not valid as long as the query asks. A server that
   * does not answer gets its last responses served still, so old signatures
   * can be checked; one never reached gets none. Each carries its server's
   * signatures and ours.
   */
  async notaryResponse(queries: readonly NotaryQuery[]): Promise<{ server_keys: JsonObject[] }> {
    const answers = await Promise.all(queries.map((query) => this.responsesFor(query)));
    const unique = new Map<string, JsonObject>();
    for (const response of answers.flat()) unique.set(canonicalJson(response), response);
    const { serverName, keys } = this.options;
    return {
      server_keys: [...unique.values()].map(
        (response) => signJson(response, serverName, keys.signingKey) as JsonObject,
      ),
    };
  }

  private async responsesFor(query: NotaryQuery): Promise<JsonObject[]> {
    const { serverName, minimumValidUntilTs } = query;
    if (serverName === this.options.serverName) return [this.ownKeyDocument()];
    const keyIds = query.keyIds.length > 0 ? query.keyIds : undefined;
    let stored = await this.options.store.keysOf(serverName, keyIds);
    const missKey = `${serverName}\n`;
    const due = !servesFresh(stored, keyIds, minimumValidUntilTs);
    if (due && (this.misses.get(missKey) ?? 0) <= this.now()) {
      // As Synapse's notary: the server itself is asked, never other notaries.
      await this.shared(serverName, () => this.fetch(serverName, undefined, 0, false));
      stored = await this.options.store.keysOf(serverName, keyIds);
      if (!servesFresh(stored, keyIds, minimumValidUntilTs)) this.rememberMiss(missKey);
    }
    return stored.map((key) => key.response);
  }

  private ownKey(keyId: string, atTs: number): string | undefined {
    const { signingKey } = this.options.keys;
    if (keyId === signingKey.keyId) return signingKey.publicKeyBase64;
    const old = this.options.oldSigningKeys.find((key) => key.key_id === keyId);
    return old && atTs <= old.expired_ts ? old.key : undefined;
  }

  private async storedKey(serverName: string, keyId: string, atTs: number) {
    const cacheKey = `${serverName}\n${keyId}`;
    let key = this.storedKeys.get(cacheKey);
    if (!key) {
      [key] = await this.options.store.keysOf(serverName, [keyId]);
      if (key) this.storedKeys.set(cacheKey, key);
    }
    return key && keyValidAt(key, atTs) ? key.publicKey : undefined;
  }

  private async storeKeys(records: ServerKeyRecord[]): Promise<void> {
    await this.options.store.storeKeys(records);
    this.storedKeys.clear();
  }

  /** Runs `fetch` unless a fetch of the server is in flight already; then waits for that one. */
  private shared(serverName: string, fetch: () => Promise<void>): Promise<void> {
    const running = this.inFlight.get(serverName);
    if (running) return running;
    const started = fetch().finally(() => this.inFlight.delete(serverName));
    this.inFlight.set(serverName, started);
    return started;
  }

  /**
   * Asks the server itself, then (when `viaNotaries` and `keyId` is still not
   * valid at `atTs`) each notary in turn, storing every checked response.
   * Never throws: a failure is logged and leaves storage as it was.
   */
  private async fetch(
    serverName: string,
    keyId: string | undefined,
    atTs: number,
    viaNotaries: boolean,
  ): Promise<void> {
    if (!parseServerName(serverName)) return;
    await this.fetchDirect(serverName);
    if (!viaNotaries || keyId === undefined) return;
    for (const notary of this.options.trustedKeyServers) {
      if (notary.server_name === serverName || notary.server_name === this.options.serverName) {
        continue;
      }
      if ((await this.storedKey(serverName, keyId, atTs)) !== undefined) return;
      await this.fetchFromNotary(notary, serverName, keyId, atTs);
    }
  }

  private async fetchDirect(serverName: string): Promise<void> {
    try {
      const answer = await this.options.sender.request({
        destination: serverName,
        method: 'GET',
        path: '/_matrix/key/v2/server',
        signed: false,
        timeoutMs: KEY_FETCH_TIMEOUT_MS,
      });
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      const check = checkKeyResponse(answer.body, serverName);
      if (!check.ok) throw new Error(check.reason);
      await this.storeKeys(recordsOf(check.checked, this.now()));
    } catch (err) {
      this.logFailure(serverName, serverName, err);
    }
  }

  private async fetchFromNotary(
    notary: TrustedKeyServer,
    serverName: string,
    keyId: string,
    atTs: number,
  ): Promise<void> {
    try {
      const answer = await this.options.sender.request({
        destination: notary.server_name,
        method: 'POST',
        path: '/_matrix/key/v2/query',
        body: { server_keys: { [serverName]: { [keyId]: { minimum_valid_until_ts: atTs } } } },
        signed: false,
        timeoutMs: KEY_FETCH_TIMEOUT_MS,
      });
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      const records = this.notaryRecords(answer.body, notary, serverName);
      await this.storeKeys(records);
    } catch (err) {
      this.logFailure(serverName, notary.server_name, err);
    }
  }

  /** The checked responses for `serverName` in a notary's answer (others are ignored). */
  private notaryRecords(body: unknown, notary: TrustedKeyServer, serverName: string) {
    const list = (body as { server_keys?: unknown } | null)?.server_keys;
    if (!Array.isArray(list)) throw new Error('no server_keys list');
    const now = this.now();
    const records: ServerKeyRecord[] = [];
    for (const item of list as unknown[]) {
      const check = checkKeyResponse(item, serverName);
      if (!check.ok) continue;
      if (!notarySigned(check.checked.response, notary.server_name, notary.verify_keys)) {
        throw new Error('a response is not signed by the notary key configured');
      }
      records.push(...recordsOf(check.checked, now));
    }
    return records;
  }

  private rememberMiss(key: string): void {
    const now = this.now();
    if (this.misses.size >= MAX_REMEMBERED_MISSES) {
      for (const [missKey, until] of this.misses) if (until <= now) this.misses.delete(missKey);
    }
    if (this.misses.size < MAX_REMEMBERED_MISSES) this.misses.set(key, now + KEY_MISS_MEMORY_MS);
  }

  private logFailure(serverName: string, askedServer: string, err: unknown): void {
    this.options.logger.info(
      { server: serverName, asked: askedServer, reason: (err as Error).message },
      'federation keys: fetch failed',
    );
  }
}

/**
 * Whether stored keys answer a notary query as they are: every key asked is
 * there and valid long enough, or (all keys asked) some current one is.
 */
function servesFresh(
  stored: readonly ServerKeyRecord[],
  keyIds: readonly string[] | undefined,
  minimumValidUntilTs: number,
): boolean {
  if (keyIds === undefined)
    return stored.some((key) => freshForNotary(key, minimumValidUntilTs) && key.expiredTs === null);
  return (
    stored.length === keyIds.length &&
    stored.every((key) => freshForNotary(key, minimumValidUntilTs))
  );
}

function recordsOf(checked: CheckedKeyResponse, fetchedTs: number): ServerKeyRecord[] {
  return checked.keys.map((key) => ({
    serverName: checked.serverName,
    keyId: key.keyId,
    publicKey: key.publicKey,
    validUntilTs: checked.validUntilTs,
    expiredTs: key.expiredTs,
    fetchedTs,
    response: checked.response,
  }));
}
