/** Writes a commented YAML config file with every option and its default. */
import type { Config } from './config.js';

export function renderConfigYaml(config: Config): string {
  const rl = config.rate_limits;
  const rule = (name: string, what: string) => {
    const r = rl[name as keyof Config['rate_limits']] as {
      per_second: number;
      burst_count: number;
    };
    return [
      `  # ${what}`,
      `  ${name}:`,
      `    per_second: ${r.per_second}`,
      `    burst_count: ${r.burst_count}`,
    ].join('\n');
  };
  return `# Weft homeserver configuration.
# Environment variables override this file: WEFT_SERVER_NAME, WEFT_BIND, WEFT_PORT,
# WEFT_DATA_DIR, WEFT_DATABASE_URL (a postgres:// URL: the postgres backend), WEFT_RATE_LIMITS
# (on|off), WEFT_LOG_LEVEL.

# The domain part of every user ID (@alice:<server_name>). Cannot change once users exist.
server_name: ${JSON.stringify(config.server_name)}

# Address and port the client API listens on.
bind: ${JSON.stringify(config.bind)}
port: ${config.port}

# Folder for the SQLite database, the server's signing key and secrets (relative paths
# are relative to the folder Weft is started in).
data_dir: ${JSON.stringify(config.data_dir)}

database:
  # sqlite: one file, <data_dir>/weft.db (nothing to set up). postgres: a PostgreSQL
  # server (Weft is tested on 15), for large servers; move an existing server's data with
  # \`weft migrate-db --to postgres://...\` while it is stopped.
  backend: ${JSON.stringify(config.database.backend)}
  # postgres only: postgres://user:password@host:port/database (WEFT_DATABASE_URL wins).
  url: ${JSON.stringify(config.database.url)}
  # postgres only: connections the pool opens at most.
  pool_size: ${config.database.pool_size}

# The URL clients reach this server at, served in /.well-known/matrix/client.
# Empty: derived from bind and port.
public_baseurl: ${JSON.stringify(config.public_baseurl)}

# Set to true when Weft runs behind a reverse proxy, so that rate limits and device
# last-seen addresses use the client's IP from X-Forwarded-For, not the proxy's.
x_forwarded: ${config.x_forwarded}

# Largest request body accepted, in bytes; larger bodies get 413 M_TOO_LARGE.
max_request_body_bytes: ${config.max_request_body_bytes}

# Log level: fatal, error, warn, info, debug or trace.
log_level: ${JSON.stringify(config.log_level)}
# Log one line per request (never with tokens or passwords).
log_requests: ${config.log_requests}
# Log format: json (one JSON object a line, for log collectors) or pretty (readable
# coloured lines for a terminal); WEFT_LOG_FORMAT overrides it. See docs/logging.md.
log_format: ${JSON.stringify(config.log_format)}

registration:
  # Whether new accounts can be registered through the client API.
  enabled: ${config.registration.enabled}
  # Whether guest accounts (kind=guest) can be registered.
  allow_guests: ${config.registration.allow_guests}
  # Pre-shared registration tokens (m.login.registration_token). When any are listed,
  # registering requires one of them.
  registration_tokens: ${JSON.stringify(config.registration.registration_tokens)}
  # Require a registration token even when none is listed above: the tokens made through
  # the Admin API (/_synapse/admin/v1/registration_tokens). Registration also requires one
  # whenever the database holds any token, used up or not.
  registration_requires_token: ${config.registration.registration_requires_token}

# A secret that lets tools register accounts (admins too) without an access token, through
# Synapse's shared-secret registration (/_synapse/admin/v1/register, an HMAC of the request).
# Whoever knows it can create admins: keep it long and private. null: turned off.
registration_shared_secret: ${JSON.stringify(config.registration_shared_secret)}

login:
  # Whether logged-in clients may mint login tokens to sign in another device
  # (POST /_matrix/client/v1/login/get_token).
  get_login_token_enabled: ${config.login.get_login_token_enabled}
  # How long a login token stays valid, in milliseconds.
  login_token_lifetime_ms: ${config.login.login_token_lifetime_ms}

uia:
  # How long an unfinished User-Interactive Auth session lives, in milliseconds.
  session_lifetime_ms: ${config.uia.session_lifetime_ms}

# Token-bucket rate limits: per_second is the refill rate, burst_count the bucket size.
rate_limits:
  # Set to false (or WEFT_RATE_LIMITS=off) for load tests and benchmarks.
  enabled: ${rl.enabled}
${rule('login_per_ip', 'Login attempts per client IP.')}
${rule('login_failures_per_account', 'Failed login attempts per account.')}
${rule('registration_per_ip', 'Registrations per client IP.')}
${rule('registration_token_validity_per_ip', 'Registration token validity checks per client IP.')}
${rule('username_available_per_ip', 'Username availability checks (GET /register/available) per client IP.')}
${rule('get_login_token_per_user', 'Login tokens minted (POST /login/get_token) per user.')}
${rule('media_upload_per_user', 'Media uploads (and /media/v1/create calls) per user.')}
${rule('messages_per_user', 'Room events but member events (messages, state, redactions) per user; the Admin API overrides it per user.')}

# Room version for new rooms.
default_room_version: ${JSON.stringify(config.default_room_version)}

# The media repository. Files live under <data_dir>/media.
media:
  # Largest upload accepted, in bytes (advertised as m.upload.size).
  max_upload_bytes: ${config.media.max_upload_bytes}
  # The spec's freeze of unauthenticated media: while true, new uploads are served only
  # by the authenticated /_matrix/client/v1/media endpoints; media uploaded before stays
  # reachable through the legacy /_matrix/media/{v3,r0} download and thumbnail endpoints.
  freeze_unauthenticated_media: ${config.media.freeze_unauthenticated_media}
  # How many IDs from POST /_matrix/media/v1/create a user may hold unfilled at once.
  max_pending_uploads_per_user: ${config.media.max_pending_uploads_per_user}
  # How long such an ID waits for its content, in milliseconds.
  unused_expires_after_ms: ${config.media.unused_expires_after_ms}
  # Longest time a download may wait (timeout_ms) for content still being uploaded.
  max_download_wait_ms: ${config.media.max_download_wait_ms}
  # Images with more pixels than this (all frames together) are not thumbnailed:
  # the guard against decompression bombs.
  max_thumbnail_source_pixels: ${config.media.max_thumbnail_source_pixels}
  # Files larger than this, in bytes, are not thumbnailed.
  max_thumbnail_source_bytes: ${config.media.max_thumbnail_source_bytes}

# URL previews (GET /_matrix/client/v1/media/preview_url): the server fetches the page a
# client names and answers its OpenGraph data (docs/url-previews.md). Private, loopback,
# link-local and reserved addresses (IPv4 and IPv6) are always refused, checked after DNS
# resolution and at every redirect.
url_preview:
  # Off by default (the endpoint answers 404 M_UNRECOGNIZED, as Synapse's does).
  enabled: ${config.url_preview.enabled}
  # More IP ranges (CIDR, e.g. "203.0.113.0/24", or single addresses) to refuse.
  ip_range_blacklist: ${JSON.stringify(config.url_preview.ip_range_blacklist)}
  # IP ranges that may be fetched even though they are refused by default or above.
  ip_range_whitelist: ${JSON.stringify(config.url_preview.ip_range_whitelist)}
  # Largest page or image downloaded for a preview, in bytes.
  max_spider_size: ${config.url_preview.max_spider_size}
  # Longest one fetch may take, redirects included, in milliseconds.
  timeout_ms: ${config.url_preview.timeout_ms}

presence:
  # Off: the presence endpoints still answer, but nothing is tracked and /sync sends none.
  enabled: ${config.presence.enabled}
  # An online user without activity (sending, typing, reading) for this long becomes
  # unavailable, in milliseconds.
  idle_timeout_ms: ${config.presence.idle_timeout_ms}
  # A user neither syncing nor active for this long goes offline, in milliseconds.
  offline_timeout_ms: ${config.presence.offline_timeout_ms}

user_directory:
  # false: a search finds users sharing a room with the searcher and users in public or
  # world-readable rooms. true: every user of this server.
  search_all_users: ${config.user_directory.search_all_users}

# TURN servers for voice and video calls (GET /voip/turnServer); no URIs: no TURN.
voip:
  # turn: or turns: URIs, e.g. "turn:turn.example.com:3478?transport=udp".
  turn_uris: ${JSON.stringify(config.voip.turn_uris)}
  # coturn's static-auth-secret: each user gets credentials that expire (preferred).
  turn_shared_secret: ${JSON.stringify(config.voip.turn_shared_secret)}
  # Or fixed credentials for every user, when there is no shared secret: the name...
  turn_username: ${JSON.stringify(config.voip.turn_username)}
  # ...and the password.
  turn_password: ${JSON.stringify(config.voip.turn_password)}
  # How long credentials from the shared secret last, in milliseconds.
  turn_user_lifetime_ms: ${config.voip.turn_user_lifetime_ms}
  # Whether guests get credentials too.
  turn_allow_guests: ${config.voip.turn_allow_guests}

# Server notices: messages from a system user to one user (POST
# /_synapse/admin/v1/send_server_notice), in a room of their own tagged m.server_notice.
server_notices:
  # The system user's localpart (e.g. "notices"); null: server notices are off. When set,
  # the account is made at start, so nobody can register it.
  system_mxid_localpart: ${JSON.stringify(config.server_notices.system_mxid_localpart)}
  # The system user's display name (null: none).
  system_mxid_display_name: ${JSON.stringify(config.server_notices.system_mxid_display_name)}
  # The name of each user's server notices room.
  room_name: ${JSON.stringify(config.server_notices.room_name)}
  # true: the user is joined to the room at once; false: invited, and joins from their client.
  auto_join: ${config.server_notices.auto_join}

push:
  # Off: push rules are not evaluated: no unread counts, no notifications, no pushes.
  enabled: ${config.push.enabled}
  # Hosts a pusher's gateway URL may use with plain http instead of https (our deviation
  # from the spec, for gateways on this machine). Loopback by default.
  http_allowed_hosts: ${JSON.stringify(config.push.http_allowed_hosts)}
  # A failed push is retried after this many milliseconds, then twice as long each time.
  retry_initial_ms: ${config.push.retry_initial_ms}
  # A push still failing this long after its first try is given up (and the reason
  # recorded on the pusher), in milliseconds.
  give_up_after_ms: ${config.push.give_up_after_ms}
  # true: also the default mention rules Matrix v1.17 removed (display name, user name and
  # "@room" in the body highlight), for events without m.mentions, for servers whose users
  # have clients older than v1.7. Off: the current spec's rules (docs/spec-versions.md).
  legacy_mention_rules: ${config.push.legacy_mention_rules}
  # Private or loopback addresses (CIDR ranges) a pusher's gateway may resolve to; every other
  # private, loopback or reserved address is refused, checked after DNS. Loopback by default.
  ip_range_whitelist: ${JSON.stringify(config.push.ip_range_whitelist)}

# Prometheus metrics (process, HTTP requests by route, long-polls, events stored) at
# http://<bind>:<port>/metrics, a listener of their own, never the client port. Keep it
# private: it shows the server's traffic (by route template, never by user or room).
metrics:
  # Off unless set to true.
  enabled: ${config.metrics.enabled}
  # The address and port of the metrics listener (port 0: any free port).
  bind: ${JSON.stringify(config.metrics.bind)}
  port: ${config.metrics.port}

# What GET /.well-known/matrix/support tells users: how to reach the admins, and a help page.
# Nothing set: the endpoint answers 404. Checked at start-up.
support:
  # Each contact: a role (m.role.admin, m.role.security, or a namespaced one) and a
  # matrix_id and/or email_address, e.g.
  # [{ role: m.role.admin, matrix_id: "@admin:example.org", email_address: "admin@example.org" }]
  contacts: ${JSON.stringify(config.support.contacts)}
  # The URL of a page with help specific to this server (null: none).
  support_page: ${JSON.stringify(config.support.support_page)}

# Application services (bridges, bots): the registration YAML file of each, as the bridge
# generates it (id, url, as_token, hs_token, sender_localpart, namespaces, rate_limited,
# protocols, receive_ephemeral, org.matrix.msc3202, io.element.msc4190; docs/appservices.md).
# Read at start-up; a bad file stops the server with a message naming the file and field.
app_service_config_files: ${JSON.stringify(config.app_service_config_files)}
# Private or loopback addresses (CIDR ranges) an application service's url may resolve to;
# every other private, loopback or reserved address is refused. Loopback by default.
app_service_ip_range_whitelist: ${JSON.stringify(config.app_service_ip_range_whitelist)}

# Federation: talking to other homeservers (the server-server API).
federation:
  # --- federation keys ---
  # Notaries asked for another server's signing keys when that server does not answer
  # itself (POST /_matrix/key/v2/query), e.g.
  # [{ server_name: "matrix.org", verify_keys: { "ed25519:auto": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw" } }].
  # With verify_keys, a notary's answer must be signed by one of them; without, its TLS
  # certificate is trusted. Empty by default: Synapse asks matrix.org unless told
  # otherwise, but a private deployment should choose its notaries (or none) itself.
  trusted_key_servers: ${JSON.stringify(config.federation.trusted_key_servers)}
  # How long our published keys (GET /_matrix/key/v2/server) are said to stay valid, in
  # milliseconds (valid_until_ts); the document is renewed when half of it is left. A
  # day, as Synapse's key_refresh_interval; other servers cap it at 7 days anyway.
  key_validity_period_ms: ${config.federation.key_validity_period_ms}
  # Keys this server used to sign with, published as old_verify_keys so that events they
  # signed still verify: [{ key_id: "ed25519:a_old", key: "<public key, unpadded
  # base64>", expired_ts: <when it stopped being used, ms> }].
  old_signing_keys: ${JSON.stringify(config.federation.old_signing_keys)}
  # --- federation client and listener ---
  # Where to reach some servers instead of discovering it (/.well-known/matrix/server, SRV):
  # { "example.org": "10.0.0.5:8448" }, or "http://127.0.0.1:8008" for plain HTTP (tests,
  # a proxy on this machine). TLS certificates are still checked for the server name; the
  # address is taken as written, even a private one (your choice, not another server's).
  hosts: ${JSON.stringify(config.federation.hosts)}
  # A PEM file of CA certificates to trust besides the usual public ones (a private CA for
  # a private federation or tests); null: none.
  ca_file: ${JSON.stringify(config.federation.ca_file)}
  # Check other servers' TLS certificates. Never set to false on a server others reach.
  verify_certificates: ${config.federation.verify_certificates}
  # Let other servers read the public room list (as Synapse's setting of this name): off,
  # it is for this server's users, and other servers asking get 403.
  allow_public_rooms_over_federation: ${config.federation.allow_public_rooms_over_federation}
  # Private, loopback or reserved addresses (CIDR ranges) other servers may resolve to;
  # every other one is refused, checked after DNS (as Synapse's federation_ip_range_blacklist).
  ip_range_whitelist: ${JSON.stringify(config.federation.ip_range_whitelist)}
  # A TLS listener serving the federation API (and the rest of the routes) by itself, for
  # servers reached directly on 8448. Without a certificate there is none: put a TLS proxy
  # in front of the main port instead.
  listener:
    # port and bind_address: where it listens.
    port: ${config.federation.listener.port}
    bind_address: ${JSON.stringify(config.federation.listener.bind_address)}
    # tls_certificate_path: the PEM certificate chain (valid for server_name, or for the
    # delegated name of a well-known); tls_private_key_path: its private key.
    tls_certificate_path: ${JSON.stringify(config.federation.listener.tls_certificate_path)}
    tls_private_key_path: ${JSON.stringify(config.federation.listener.tls_private_key_path)}
  # --- federation sending ---
  # A server that does not answer our transactions is tried again after this long (ms),
  # twice as long after each further failure, and at once when it sends us anything.
  sending_retry_initial_ms: ${config.federation.sending_retry_initial_ms}
  # The longest wait between two attempts at such a server (ms): an hour, as Synapse's.
  sending_retry_max_ms: ${config.federation.sending_retry_max_ms}
  # A failing server with more of our events queued than this catches up when it is back:
  # it gets each room's 10 newest and fetches the rest itself (as Synapse does).
  sending_catch_up_after_pdus: ${config.federation.sending_catch_up_after_pdus}
`;
}
