/**
 * Weft's configuration: defaults, the YAML file, then environment variables
 * (the environment wins over the file).
 */
import { OperatorError } from '../util/operator-error.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseRange } from '../net/address-rules.js';
import { DEFAULT_SUPPORT, supportConfigProblems, type SupportConfig } from './support.js';

export interface RateLimitRule {
  /** Tokens added per second. */
  per_second: number;
  /** Bucket size: how many requests may come at once. */
  burst_count: number;
}

export interface Config {
  server_name: string;
  bind: string;
  port: number;
  /** Where the SQLite database, signing key and media live. */
  data_dir: string;
  database: DatabaseConfig;
  /** Base URL clients use, served in /.well-known/matrix/client. */
  public_baseurl: string;
  /** Behind a reverse proxy: take the client's IP from X-Forwarded-For. */
  x_forwarded: boolean;
  max_request_body_bytes: number;
  log_level: string;
  /** Log one line per request (method, path without query, status, time). */
  log_requests: boolean;
  /** `json` (one object a line, the default) or `pretty` (coloured lines for a terminal, pino-pretty). */
  log_format: 'json' | 'pretty';
  registration: {
    enabled: boolean;
    allow_guests: boolean;
    /** Pre-shared tokens; when any exist, registration requires one. */
    registration_tokens: string[];
    /**
     * Registration requires a token even when none is listed here (Synapse's
     * registration_requires_token): the Admin API's tokens, kept in the database.
     */
    registration_requires_token: boolean;
  };
  /** Enables Synapse's shared-secret registration (`/_synapse/admin/v1/register`); null: off. */
  registration_shared_secret: string | null;
  login: {
    /** Enables POST /_matrix/client/v1/login/get_token. */
    get_login_token_enabled: boolean;
    /** Lifetime of a login token, in milliseconds. */
    login_token_lifetime_ms: number;
  };
  uia: {
    /** How long an unfinished User-Interactive Auth session lives. */
    session_lifetime_ms: number;
  };
  rate_limits: {
    enabled: boolean;
    login_per_ip: RateLimitRule;
    login_failures_per_account: RateLimitRule;
    registration_per_ip: RateLimitRule;
    registration_token_validity_per_ip: RateLimitRule;
    /** `GET /register/available` checks per client IP. */
    username_available_per_ip: RateLimitRule;
    /** Login tokens minted by `POST /login/get_token` per user. */
    get_login_token_per_user: RateLimitRule;
    /** Uploads and `/media/v1/create` calls per user. */
    media_upload_per_user: RateLimitRule;
    /** Room events other than member events (messages, state, redactions) per user; admins may override it per user. */
    messages_per_user: RateLimitRule;
  };
  default_room_version: string;
  media: MediaConfig;
  url_preview: UrlPreviewConfig;
  presence: {
    /** Off: the presence endpoints still answer, but nothing is tracked and /sync sends none. */
    enabled: boolean;
    /** Online without activity this long → unavailable, in milliseconds. */
    idle_timeout_ms: number;
    /** Neither syncing nor active this long → offline, in milliseconds. */
    offline_timeout_ms: number;
  };
  user_directory: {
    /** Search every user, not only those sharing a room with the searcher or in public rooms. */
    search_all_users: boolean;
  };
  voip: VoipConfig;
  server_notices: ServerNoticesConfig;
  push: PushConfig;
  metrics: MetricsConfig;
  /** Contacts and a help page for GET /.well-known/matrix/support (config/support.ts). */
  support: SupportConfig;
  /** Application service registration files (bridges' YAML), read at start-up. */
  app_service_config_files: string[];
  /**
   * Addresses application services may be reached at although they are private or
   * loopback (CIDR ranges): bridges usually run beside the homeserver.
   */
  app_service_ip_range_whitelist: string[];
  /** Talking to other homeservers (server-server API). */
  federation: FederationConfig;
}

// --- federation (server-server API) ---
export interface FederationConfig {
  // federation keys (request signing, key fetching, notary)
  /**
   * Notaries asked (`POST /_matrix/key/v2/query`) for a server's keys when that server
   * cannot be asked itself. `verify_keys` (key ID → unpadded base64): the notary's
   * response must carry a signature by one of them; absent: its TLS is trusted.
   */
  trusted_key_servers: TrustedKeyServer[];
  /** How long our published key document says our keys stay valid, in milliseconds. */
  key_validity_period_ms: number;
  /** Keys this server signed with before (public parts), published as old_verify_keys. */
  old_signing_keys: OldSigningKey[];
  // federation client and listener (finding servers, TLS)
  /**
   * Server name → `host:port` to connect to instead of discovering it (no well-known, no
   * SRV). `http://host:port` speaks plain HTTP (tests, a proxy on this machine), else TLS
   * with the certificate checked for the server name. The operator's word: the address
   * is not checked against the private ranges.
   */
  hosts: Record<string, string>;
  /** A PEM file of CA certificates trusted besides Node's bundled ones (a private CA); null: none. */
  ca_file: string | null;
  /** Check other servers' TLS certificates (never turn off on a public server). */
  verify_certificates: boolean;
  /** Private, loopback or reserved ranges (CIDR) other servers may be at nonetheless. */
  ip_range_whitelist: string[];
  /** A TLS listener of its own for federation; no certificate: none (a TLS proxy in front). */
  listener: FederationListenerConfig;

  /** A destination that failed is tried again after this long, in milliseconds; each next failure doubles it. */
  sending_retry_initial_ms: number;
  /** The longest wait between two attempts at a failing destination, in milliseconds. */
  sending_retry_max_ms: number;
  /**
   * Other servers may read our public room list (`/publicRooms` over
   * federation). Off by default, as in Synapse: the list is for our own users
   * unless the operator publishes it to the federation.
   */
  allow_public_rooms_over_federation: boolean;
  /**
   * A failing destination with more PDUs than this queued catches up: only each
   * room's newest few are kept, the peer fetches the rest (as Synapse does).
   */
  sending_catch_up_after_pdus: number;
}

export interface FederationListenerConfig {
  port: number;
  bind_address: string;
  /** PEM certificate chain and private key; both empty: no federation listener. */
  tls_certificate_path: string;
  tls_private_key_path: string;
}

export interface TrustedKeyServer {
  server_name: string;
  verify_keys?: Record<string, string>;
}

export interface OldSigningKey {
  /** e.g. `ed25519:a_Old1` */
  key_id: string;
  /** The public key, unpadded base64. */
  key: string;
  /** When we stopped signing with it, a millisecond POSIX timestamp. */
  expired_ts: number;
}

/** Prometheus metrics, on a listener of their own (never the client port). */
export interface MetricsConfig {
  /** Off by default: no listener, and no hook on the requests. */
  enabled: boolean;
  /** Address of the metrics listener (`GET /metrics`). */
  bind: string;
  /** Its port (0: any free one). */
  port: number;
}

export interface DatabaseConfig {
  /** sqlite: one file in data_dir (the default); postgres: a PostgreSQL server at `url`. */
  backend: 'sqlite' | 'postgres';
  /** postgres only: a connection URL (postgres://user:password@host:port/database). */
  url: string;
  /** postgres only: connections the pool opens at most. */
  pool_size: number;
}

const DATABASE_BACKENDS = ['sqlite', 'postgres'];

export interface PushConfig {
  /** Off: push rules are not evaluated (no counts, no notifications, no pushes); for benchmarks. */
  enabled: boolean;
  /**
   * Hosts a pusher's `data.url` may name with plain http (a deviation from the spec's
   * "MUST be an HTTPS URL", for local gateways). Loopback by default.
   */
  http_allowed_hosts: string[];
  /** The first retry of a failed push waits this long, in milliseconds; each next one twice as long. */
  retry_initial_ms: number;
  /** A push still failing this long after its first try is given up, in milliseconds. */
  give_up_after_ms: number;
  /**
   * Restores the default mention rules v1.17 removed (contains_display_name, contains_user_name,
   * roomnotif), for servers with many clients that send no `m.mentions`; docs/spec-versions.md.
   */
  legacy_mention_rules: boolean;
  /**
   * Private or loopback addresses (CIDR ranges) a gateway may be at; every other private,
   * loopback or reserved address is refused (net/address-rules.ts). Loopback by default.
   */
  ip_range_whitelist: string[];
}

/** URL previews (`/media/preview_url`), as Synapse's url_preview_* options (docs/url-previews.md). */
export interface UrlPreviewConfig {
  /** Off by default, as Synapse: the endpoint answers 404 M_UNRECOGNIZED. */
  enabled: boolean;
  /** IP ranges (CIDR or single addresses) denied on top of the built-in private and reserved ones. */
  ip_range_blacklist: string[];
  /** IP ranges reachable even when denied (e.g. a service on the local network). */
  ip_range_whitelist: string[];
  /** Largest page or image fetched, in bytes. */
  max_spider_size: number;
  /** Longest a preview's fetch may take, redirects and the image included, in milliseconds. */
  timeout_ms: number;
}

export interface MediaConfig {
  /** Largest upload accepted, in bytes (413 M_TOO_LARGE above it). */
  max_upload_bytes: number;
  /**
   * The spec's freeze of unauthenticated media: media uploaded while this is on is
   * served only by the authenticated `/_matrix/client/v1/media` endpoints; media
   * uploaded before stays reachable through the legacy `/_matrix/media` ones.
   */
  freeze_unauthenticated_media: boolean;
  /** How many `/media/v1/create` IDs a user may hold without content at once. */
  max_pending_uploads_per_user: number;
  /** How long an ID from `/media/v1/create` waits for its content, in milliseconds. */
  unused_expires_after_ms: number;
  /** Longest wait a download may ask for with `timeout_ms` for pending media. */
  max_download_wait_ms: number;
  /** Images with more pixels than this (all frames together) are not thumbnailed (413). */
  max_thumbnail_source_pixels: number;
  /** Files larger than this, in bytes, are not thumbnailed (413). */
  max_thumbnail_source_bytes: number;
}

/** Server notices (Synapse's `server_notices`): a system user's messages to users, sent by admins. */
export interface ServerNoticesConfig {
  /** The system user's localpart; null (the default, as Synapse): server notices are off. */
  system_mxid_localpart: string | null;
  /** The system user's display name (null: none). */
  system_mxid_display_name: string | null;
  /** The name each user's notices room gets. */
  room_name: string;
  /** Whether the user is joined to the notices room at once rather than invited (Synapse's auto_join). */
  auto_join: boolean;
}

/** TURN credentials for calls (`GET /voip/turnServer`), as Synapse's turn_* options. */
export interface VoipConfig {
  /** `turn:`/`turns:` URIs; none: the endpoint answers `{}` (no TURN here). */
  turn_uris: string[];
  /** coturn's `static-auth-secret`: time-limited credentials per user. */
  turn_shared_secret: string | null;
  /** Fixed credentials, when there is no shared secret. */
  turn_username: string | null;
  turn_password: string | null;
  /** How long time-limited credentials last, in milliseconds. */
  turn_user_lifetime_ms: number;
  /** Whether guests get credentials too. */
  turn_allow_guests: boolean;
}

export function defaultConfig(): Config {
  return {
    server_name: 'localhost',
    bind: '127.0.0.1',
    port: 8008,
    data_dir: './data',
    database: { backend: 'sqlite', url: '', pool_size: 10 },
    public_baseurl: '',
    x_forwarded: false,
    max_request_body_bytes: 1024 * 1024,
    log_level: 'info',
    log_requests: true,
    log_format: 'json',
    registration: {
      enabled: true,
      allow_guests: true,
      registration_tokens: [],
      registration_requires_token: false,
    },
    registration_shared_secret: null,
    login: { get_login_token_enabled: true, login_token_lifetime_ms: 2 * 60 * 1000 },
    uia: { session_lifetime_ms: 15 * 60 * 1000 },
    rate_limits: {
      enabled: true,
      login_per_ip: { per_second: 0.17, burst_count: 5 },
      login_failures_per_account: { per_second: 0.17, burst_count: 5 },
      registration_per_ip: { per_second: 0.17, burst_count: 5 },
      registration_token_validity_per_ip: { per_second: 0.1, burst_count: 3 },
      // Synapse serves about one check per 2 s per IP (and queues one more).
      username_available_per_ip: { per_second: 0.5, burst_count: 3 },
      // login_token.yaml suggests 1 per minute; Synapse limits each user so.
      get_login_token_per_user: { per_second: 1 / 60, burst_count: 1 },
      media_upload_per_user: { per_second: 1, burst_count: 20 },
      // Synapse's rc_message defaults.
      messages_per_user: { per_second: 0.2, burst_count: 10 },
    },
    default_room_version: '12',
    media: {
      max_upload_bytes: 50 * 1024 * 1024,
      freeze_unauthenticated_media: true,
      max_pending_uploads_per_user: 5,
      unused_expires_after_ms: 24 * 60 * 60 * 1000,
      max_download_wait_ms: 60 * 1000,
      max_thumbnail_source_pixels: 32_000_000,
      max_thumbnail_source_bytes: 20 * 1024 * 1024,
    },
    // Synapse's timers: idle after 5 minutes, offline 30 seconds after the last sync.
    presence: { enabled: true, idle_timeout_ms: 5 * 60 * 1000, offline_timeout_ms: 30 * 1000 },
    user_directory: { search_all_users: false },
    // Synapse's defaults: an hour's credentials, guests included.
    voip: {
      turn_uris: [],
      turn_shared_secret: null,
      turn_username: null,
      turn_password: null,
      turn_user_lifetime_ms: 60 * 60 * 1000,
      turn_allow_guests: true,
    },
    // Off unless a localpart is set, as Synapse: the system user's ID is reserved then.
    server_notices: {
      system_mxid_localpart: null,
      system_mxid_display_name: null,
      room_name: 'Server Notices',
      auto_join: false,
    },
    push: {
      enabled: true,
      http_allowed_hosts: ['localhost', '127.0.0.1', '[::1]'],
      retry_initial_ms: 1000,
      give_up_after_ms: 10 * 60 * 1000,
      legacy_mention_rules: false,
      // A gateway on this machine (Sygnal beside Weft) works as installed, as http does.
      ip_range_whitelist: ['127.0.0.0/8', '::1/128'],
    },
    metrics: { enabled: false, bind: '127.0.0.1', port: 9009 },
    // Nothing configured: /.well-known/matrix/support answers 404.
    support: { ...DEFAULT_SUPPORT, contacts: [] },
    // Synapse's defaults: off, 10 MiB.
    url_preview: {
      enabled: false,
      ip_range_blacklist: [],
      ip_range_whitelist: [],
      max_spider_size: 10 * 1024 * 1024,
      timeout_ms: 20_000,
    },
    app_service_config_files: [],
    // Loopback only: a bridge on this machine works as installed; others are named.
    app_service_ip_range_whitelist: ['127.0.0.0/8', '::1/128'],
    federation: {
      // federation keys: no notary unless named (Synapse defaults to matrix.org; a private
      // deployment opts in); our key document valid a day, Synapse's key_refresh_interval.
      trusted_key_servers: [],
      key_validity_period_ms: 24 * 60 * 60 * 1000,
      old_signing_keys: [],
      // federation client and listener: Synapse blocks private ranges by default too.
      hosts: {},
      ca_file: null,
      verify_certificates: true,
      ip_range_whitelist: [],
      listener: {
        port: 8448,
        bind_address: '0.0.0.0',
        tls_certificate_path: '',
        tls_private_key_path: '',
      },
      // federation sending: Synapse's backoff, 5 s doubling to an hour.
      sending_retry_initial_ms: 5_000,
      sending_retry_max_ms: 60 * 60 * 1000,
      allow_public_rooms_over_federation: false,
      // Ten transactions' worth: an outage of minutes is sent whole, a long one caught up.
      sending_catch_up_after_pdus: 500,
    },
  };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Merges a partial config over a complete one, object by object. Unknown keys are refused. */
export function mergeConfig(
  base: Config,
  overrides: DeepPartial<Config>,
  where = 'config',
): Config {
  return mergeObject(base, overrides, where) as unknown as Config;
}

/** Options whose value is a mapping of the operator's own keys, replaced whole by a later layer. */
const FREE_FORM_MAPS = new Set(['federation.hosts']);

function mergeObject(base: object, overrides: unknown, where: string, keyPath = ''): object {
  if (overrides === null || overrides === undefined) return base;
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new ConfigError(`${where} must be a mapping`);
  }
  const result: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in result)) throw new ConfigError(`${where}: unknown option '${key}'`);
    const current = result[key];
    const isSection = typeof current === 'object' && current !== null && !Array.isArray(current);
    if (FREE_FORM_MAPS.has(`${keyPath}${key}`) && value !== undefined) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError(`${where}.${key} must be a mapping`);
      }
      result[key] = { ...(value as object) };
    } else if (isSection) {
      result[key] = mergeObject(current as object, value, `${where}.${key}`, `${keyPath}${key}.`);
    } else {
      // A null default (an optional string, off by default) takes a string or null.
      const wrongType =
        current === null
          ? value !== null && typeof value !== 'string'
          : typeof value !== typeof current || Array.isArray(value) !== Array.isArray(current);
      if (value !== undefined && wrongType) {
        throw new ConfigError(
          `${where}.${key} must be of type ${current === null ? 'string' : typeof current}`,
        );
      }
      result[key] = value;
    }
  }
  return result;
}

export class ConfigError extends OperatorError {}

export interface LoadedConfig {
  config: Config;
  /** The file the config came from, if any. */
  path: string | undefined;
}

/** Reads a YAML config file (missing file → defaults) and applies the environment. */
export function loadConfig(
  configPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  let config = defaultConfig();
  if (configPath && existsSync(configPath)) {
    const parsed: unknown = parseYaml(readFileSync(configPath, 'utf8'));
    config = mergeConfig(config, parsed as DeepPartial<Config>, path.basename(configPath));
  }
  return { config: checkConfig(applyEnvironment(config, env)), path: configPath };
}

/** What the types cannot say: an option's allowed values, and the options one needs. */
export function checkConfig(config: Config): Config {
  const database = config.database;
  if (!DATABASE_BACKENDS.includes(database.backend)) {
    throw new ConfigError(`database.backend must be one of ${DATABASE_BACKENDS.join(', ')}`);
  }
  if (database.backend === 'postgres' && !/^postgres(ql)?:\/\//.test(database.url)) {
    throw new ConfigError(
      'database.url must be a postgres:// URL when database.backend is postgres (or set WEFT_DATABASE_URL)',
    );
  }
  if (!Number.isInteger(database.pool_size) || database.pool_size < 1) {
    throw new ConfigError('database.pool_size must be a positive integer');
  }
  if (config.registration_shared_secret === '') {
    throw new ConfigError(
      'registration_shared_secret must not be empty (leave it null to turn it off)',
    );
  }
  if (config.log_format !== 'json' && config.log_format !== 'pretty') {
    throw new ConfigError(`log_format must be 'json' or 'pretty'`);
  }
  checkMetricsConfig(config);
  checkVoipConfig(config.voip);
  checkServerNoticesConfig(config.server_notices);
  const supportProblems = supportConfigProblems(config.support);
  if (supportProblems.length > 0) throw new ConfigError(supportProblems.join('; '));
  checkUrlPreviewConfig(config.url_preview);
  checkRanges('push.ip_range_whitelist', config.push.ip_range_whitelist);
  checkAppServiceConfig(config);
  checkFederationKeysConfig(config.federation); // federation keys
  checkFederationClientConfig(config.federation); // federation client and listener
  checkFederationSendingConfig(config.federation);
  return config;
}

/** A list of IP ranges (CIDR or single addresses), each one parsed as net/address-rules.ts will. */
function checkRanges(field: string, ranges: unknown): void {
  if (!Array.isArray(ranges)) throw new ConfigError(`${field} must be a list of IP ranges`);
  for (const range of ranges) {
    try {
      parseRange(String(range));
    } catch (err) {
      throw new ConfigError(`${field}: ${(err as Error).message}`);
    }
  }
}

function checkUrlPreviewConfig(preview: UrlPreviewConfig): void {
  checkRanges('url_preview.ip_range_blacklist', preview.ip_range_blacklist);
  checkRanges('url_preview.ip_range_whitelist', preview.ip_range_whitelist);
  for (const key of ['max_spider_size', 'timeout_ms'] as const) {
    if (!Number.isInteger(preview[key]) || preview[key] < 1) {
      throw new ConfigError(`url_preview.${key} must be a positive whole number`);
    }
  }
}

function checkServerNoticesConfig(notices: ServerNoticesConfig): void {
  const localpart = notices.system_mxid_localpart;
  // The spec's user ID grammar for localparts of new users.
  if (localpart !== null && !/^[a-z0-9._=\-/+]+$/.test(localpart)) {
    throw new ConfigError(
      'server_notices.system_mxid_localpart must be a localpart (a-z, 0-9, ._=-/+) or null',
    );
  }
}

function checkAppServiceConfig(config: Config): void {
  const strings = (value: unknown): boolean =>
    Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '');
  if (!strings(config.app_service_config_files)) {
    throw new ConfigError('app_service_config_files must be a list of file paths');
  }
  checkRanges('app_service_ip_range_whitelist', config.app_service_ip_range_whitelist);
}

// --- federation keys ---
const KEY_ID = /^ed25519:[A-Za-z0-9_]+$/;
const PUBLIC_KEY = /^[A-Za-z0-9+/]{43}$/;

function checkFederationKeysConfig(federation: FederationConfig): void {
  const period = federation.key_validity_period_ms;
  // Under an hour, servers refetch all the time (the spec asks for at least an hour left).
  if (!Number.isInteger(period) || period < 60 * 60 * 1000) {
    throw new ConfigError(
      'federation.key_validity_period_ms must be a whole number of at least 3600000',
    );
  }
  if (!Array.isArray(federation.trusted_key_servers)) {
    throw new ConfigError('federation.trusted_key_servers must be a list');
  }
  for (const server of federation.trusted_key_servers as unknown[]) {
    const where = 'federation.trusted_key_servers';
    const entry = server as TrustedKeyServer;
    if (
      typeof entry !== 'object' ||
      entry === null ||
      typeof entry.server_name !== 'string' ||
      entry.server_name === ''
    ) {
      throw new ConfigError(`${where}: each entry needs a server_name`);
    }
    const keys: unknown = entry.verify_keys;
    if (keys === undefined) continue;
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
      throw new ConfigError(
        `${where}: verify_keys of ${entry.server_name} must map key IDs to keys`,
      );
    }
    for (const [keyId, key] of Object.entries(keys))
      checkPublicKey(`${where} (${entry.server_name})`, keyId, key);
  }
  if (!Array.isArray(federation.old_signing_keys)) {
    throw new ConfigError('federation.old_signing_keys must be a list');
  }
  for (const old of federation.old_signing_keys as unknown[]) {
    const entry = (old ?? {}) as Partial<OldSigningKey>;
    checkPublicKey('federation.old_signing_keys', entry.key_id, entry.key);
    if (!Number.isSafeInteger(entry.expired_ts) || (entry.expired_ts as number) < 0) {
      throw new ConfigError(
        `federation.old_signing_keys: ${String(entry.key_id)} needs an expired_ts (milliseconds)`,
      );
    }
  }
}

/** An ed25519 key ID and its 32-byte public key in unpadded base64 (43 characters). */
function checkPublicKey(where: string, keyId: unknown, key: unknown): void {
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) {
    throw new ConfigError(
      `${where}: ${String(keyId)} is not an ed25519 key ID (ed25519:<version>)`,
    );
  }
  if (typeof key !== 'string' || !PUBLIC_KEY.test(key)) {
    throw new ConfigError(`${where}: the key of ${keyId} must be 32 bytes in unpadded base64`);
  }
}

// --- federation sending ---
function checkFederationSendingConfig(federation: FederationConfig): void {
  const { sending_retry_initial_ms: initial, sending_retry_max_ms: max } = federation;
  if (!Number.isInteger(initial) || initial < 1 || !Number.isInteger(max) || max < initial) {
    throw new ConfigError(
      'federation.sending_retry_initial_ms must be a positive whole number, and sending_retry_max_ms at least as large',
    );
  }
  const catchUp = federation.sending_catch_up_after_pdus;
  if (!Number.isInteger(catchUp) || catchUp < 0) {
    throw new ConfigError('federation.sending_catch_up_after_pdus must be a whole number ≥ 0');
  }
}

// --- federation client and listener ---
/** `host:port`, optionally after http:// or https:// (federation/resolve-server.ts parses it). */
const HOST_OVERRIDE = /^(https?:\/\/)?(\[[0-9A-Fa-f:.]+\]|[^:/[\]]+):\d{1,5}$/;

function checkFederationClientConfig(federation: FederationConfig): void {
  for (const [name, target] of Object.entries(federation.hosts)) {
    if (typeof target !== 'string' || !HOST_OVERRIDE.test(target)) {
      throw new ConfigError(
        `federation.hosts: ${name} must map to host:port (or http://host:port, https://host:port)`,
      );
    }
  }
  checkRanges('federation.ip_range_whitelist', federation.ip_range_whitelist);
  const listener = federation.listener;
  if (!Number.isInteger(listener.port) || listener.port < 0 || listener.port > 65535) {
    throw new ConfigError('federation.listener.port must be a port number');
  }
  if ((listener.tls_certificate_path === '') !== (listener.tls_private_key_path === '')) {
    throw new ConfigError(
      'federation.listener.tls_certificate_path and tls_private_key_path go together',
    );
  }
}

function checkVoipConfig(voip: VoipConfig): void {
  const badUri = voip.turn_uris.find((uri) => typeof uri !== 'string' || !/^turns?:/.test(uri));
  if (badUri !== undefined) {
    throw new ConfigError(`voip.turn_uris must be turn: or turns: URIs, got ${String(badUri)}`);
  }
  if (voip.turn_shared_secret === '') {
    throw new ConfigError('voip.turn_shared_secret must not be empty (leave it null)');
  }
  if ((voip.turn_username === null) !== (voip.turn_password === null)) {
    throw new ConfigError('voip.turn_username and voip.turn_password go together');
  }
  if (!Number.isInteger(voip.turn_user_lifetime_ms) || voip.turn_user_lifetime_ms < 1000) {
    throw new ConfigError('voip.turn_user_lifetime_ms must be a whole number of at least 1000');
  }
}

function checkMetricsConfig(config: Config): void {
  const metrics = config.metrics;
  if (!Number.isInteger(metrics.port) || metrics.port < 0 || metrics.port > 65535) {
    throw new ConfigError('metrics.port must be a port number');
  }
  if (metrics.bind === '') throw new ConfigError('metrics.bind must be an address');
  const clash = metrics.port !== 0 && metrics.port === config.port && metrics.bind === config.bind;
  if (metrics.enabled && clash) {
    throw new ConfigError(
      'metrics.port must differ from port: metrics have a listener of their own',
    );
  }
}

export function applyEnvironment(config: Config, env: NodeJS.ProcessEnv): Config {
  const result = structuredClone(config);
  if (env.WEFT_SERVER_NAME) result.server_name = env.WEFT_SERVER_NAME;
  if (env.WEFT_BIND) result.bind = env.WEFT_BIND;
  if (env.WEFT_PORT) {
    const port = Number(env.WEFT_PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`WEFT_PORT must be a port number, got '${env.WEFT_PORT}'`);
    }
    result.port = port;
  }
  if (env.WEFT_DATA_DIR) result.data_dir = env.WEFT_DATA_DIR;
  // A connection URL in the environment (it may hold a password: kept out of config files).
  if (env.WEFT_DATABASE_URL) {
    result.database.backend = 'postgres';
    result.database.url = env.WEFT_DATABASE_URL;
  }
  if (env.WEFT_RATE_LIMITS) {
    const value = env.WEFT_RATE_LIMITS.toLowerCase();
    if (value !== 'on' && value !== 'off') {
      throw new ConfigError(`WEFT_RATE_LIMITS must be 'on' or 'off'`);
    }
    result.rate_limits.enabled = value === 'on';
  }
  if (env.WEFT_LOG_LEVEL) result.log_level = env.WEFT_LOG_LEVEL;
  if (env.WEFT_LOG_FORMAT) result.log_format = env.WEFT_LOG_FORMAT as Config['log_format'];
  return result;
}

/**
 * The base URL clients should use: `public_baseurl`, else derived from the bind
 * address and the port actually listened on (which differs from `port` when it is 0).
 */
export function publicBaseUrl(config: Config, listeningPort = config.port): string {
  if (config.public_baseurl) return config.public_baseurl.replace(/\/+$/, '');
  const host = config.bind === '0.0.0.0' || config.bind === '::' ? 'localhost' : config.bind;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listeningPort}`;
}
