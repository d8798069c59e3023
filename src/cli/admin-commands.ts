/**
 * The operator's commands: reset-password, deactivate, list-users,
 * make-admin, create-registration-token, delete-room. Each works on a stopped
 * server (the storage opened as register-user does, the services called) and
 * on a running one, through its Admin API: two processes must never write at
 * once (stream positions are allocated in the server's memory), so a server
 * that answers GET /health at the config's address is always asked over HTTP.
 */
import { mkdirSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AccountService } from '../account/account-service.js';
import { parseUserListQuery } from '../admin/admin-rules.js';
import { AdminUserService } from '../admin/admin-user-service.js';
import { newAdminJob } from '../admin/admin-jobs.js';
import { AdminRegistrationTokenService } from '../admin/registration-token-service.js';
import { parseRoomDeletion } from '../admin/room-moderation-rules.js';
import { SessionService } from '../auth/sessions.js';
import type { Config } from '../config/config.js';
import { errors } from '../protocol/errors.js';
import { openStorage } from '../storage/open-storage.js';
import type { Storage } from '../storage/storage.js';
import { UsageError, type AdminCommandName } from './usage.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

/** A running server's Admin API, called with an admin's access token. */
export interface AdminHttp {
  call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
}

/** A stopped server's storage and the services the commands reuse. */
export interface StoppedServer {
  config: Config;
  storage: Storage;
  accounts: AccountService;
  admin: AdminUserService;
}

interface AdminCommand {
  usage: string;
  options: Options;
  /** Absent: the command needs the running server (what it calls is only there). */
  stopped?: (server: StoppedServer, values: Values, print: Print) => Promise<void>;
  running: (http: AdminHttp, values: Values, config: Config, print: Print) => Promise<void>;
}

type Print = (line: string) => void;

const COMMON = `
Common options:
  --config PATH   Config file (default: $WEFT_CONFIG or ./weft.yaml)
  --token TOKEN   An admin's access token, used when the server is running
                  (default: $WEFT_ADMIN_TOKEN)
`;

const enc = encodeURIComponent;

/** `alice` or `@alice:server`: the full user ID. */
function userIdOf(values: Values, config: Config): string {
  const user = values.user;
  if (typeof user !== 'string' || user === '') throw new UsageError('--user NAME is required');
  return user.startsWith('@') ? user : `@${user}:${config.server_name}`;
}

async function existingUser(server: StoppedServer, userId: string): Promise<void> {
  if (!(await server.storage.users.getUser(userId))) throw errors.notFound(`No user ${userId}`);
}

function requiredPassword(values: Values): string {
  if (typeof values.password !== 'string' || values.password === '') {
    throw new UsageError('--password PW is required');
  }
  return values.password;
}

function numberOption(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} must be a non-negative integer`);
  }
  return value;
}

/** A page of users as list-users prints them: one line each, tab-separated. */
function printUsers(users: Record<string, unknown>[], print: Print): void {
  for (const user of users) {
    const flags = ['admin', 'deactivated', 'is_guest', 'locked', 'suspended']
      .filter((flag) => user[flag] === true)
      .join(',');
    print(`${String(user.name)}\t${flags || '-'}\t${String(user.displayname ?? '')}`);
  }
}

/** list-users' query (the Admin API's v2 parameters): every user unless told otherwise. */
function userListQuery(values: Values): Record<string, string> {
  const query: Record<string, string> = { from: '0', limit: '100' };
  if (values.deactivated) query.deactivated = 'true';
  if (values['no-guests']) query.guests = 'false';
  return query;
}

const COMMANDS: Record<AdminCommandName, AdminCommand> = {
  'reset-password': {
    usage: `Usage: weft reset-password --user NAME --password PW [--keep-devices]

Sets a user's password. Their devices are logged out unless --keep-devices.
`,
    options: {
      user: { type: 'string' },
      password: { type: 'string' },
      'keep-devices': { type: 'boolean' },
    },
    stopped: async (server, values, print) => {
      const userId = userIdOf(values, server.config);
      const password = requiredPassword(values);
      await existingUser(server, userId);
      await server.accounts.changePassword(userId, password, null, !values['keep-devices']);
      print(`Password of ${userId} changed`);
    },
    running: async (http, values, config, print) => {
      const userId = userIdOf(values, config);
      await http.call('POST', `/v1/reset_password/${enc(userId)}`, {
        new_password: requiredPassword(values),
        logout_devices: !values['keep-devices'],
      });
      print(`Password of ${userId} changed`);
    },
  },

  deactivate: {
    usage: `Usage: weft deactivate --user NAME [--erase]

Deactivates a user: their devices are logged out and they leave every room
(queued now, done by the server: at once if running, else when it starts).
--erase also removes their display name and avatar (running server only).
`,
    options: { user: { type: 'string' }, erase: { type: 'boolean' } },
    stopped: async (server, values, print) => {
      const userId = userIdOf(values, server.config);
      // Erasing changes member events in every room: only the running server writes events.
      if (values.erase) throw new UsageError('--erase needs the server: start the server first');
      await existingUser(server, userId);
      await server.accounts.deactivate(userId);
      print(`Deactivated ${userId}`);
    },
    running: async (http, values, config, print) => {
      const userId = userIdOf(values, config);
      await http.call('POST', `/v1/deactivate/${enc(userId)}`, { erase: values.erase === true });
      print(`Deactivated ${userId}`);
    },
  },

  'list-users': {
    usage: `Usage: weft list-users [--deactivated] [--no-guests]

Prints every user, one a line: user ID, flags (admin, deactivated, is_guest,
locked, suspended), display name. --deactivated includes deactivated users.
`,
    options: { deactivated: { type: 'boolean' }, 'no-guests': { type: 'boolean' } },
    stopped: async (server, values, print) => {
      let query = userListQuery(values);
      for (;;) {
        const page = await server.admin.listUsers(parseUserListQuery(query));
        printUsers(page.users as unknown as Record<string, unknown>[], print);
        if (page.next_token === undefined) return;
        query = { ...query, from: page.next_token };
      }
    },
    running: async (http, values, _config, print) => {
      let query = userListQuery(values);
      for (;;) {
        const page = await http.call('GET', `/v2/users?${new URLSearchParams(query)}`);
        printUsers(page.users as Record<string, unknown>[], print);
        if (page.next_token === undefined) return;
        query = { ...query, from: String(page.next_token as string | number) };
      }
    },
  },

  'make-admin': {
    usage: `Usage: weft make-admin --user NAME [--revoke]

Makes a user a server admin, or with --revoke takes the flag away.
`,
    options: { user: { type: 'string' }, revoke: { type: 'boolean' } },
    stopped: async (server, values, print) => {
      const userId = userIdOf(values, server.config);
      // The actor is the shell, not a user: the "no demoting yourself" rule is for the API.
      await server.admin.setAdmin('', userId, !values.revoke);
      print(values.revoke ? `${userId} is no longer an admin` : `${userId} is now an admin`);
    },
    running: async (http, values, config, print) => {
      const userId = userIdOf(values, config);
      await http.call('PUT', `/v1/users/${enc(userId)}/admin`, { admin: !values.revoke });
      print(values.revoke ? `${userId} is no longer an admin` : `${userId} is now an admin`);
    },
  },

  'create-registration-token': {
    usage: `Usage: weft create-registration-token [--uses N] [--expiry-ts MS] [--length N]

Creates a registration token and prints it. --uses limits how many
registrations it allows, --expiry-ts is when it stops (ms since 1970).
`,
    options: {
      uses: { type: 'string' },
      'expiry-ts': { type: 'string' },
      length: { type: 'string' },
    },
    stopped: async (server, values, print) => {
      const tokens = new AdminRegistrationTokenService(server.storage.registrationTokens);
      const created = await tokens.create(newTokenBody(values));
      print(String(created.token));
    },
    running: async (http, values, _config, print) => {
      const created = await http.call('POST', '/v1/registration_tokens/new', newTokenBody(values));
      print(String(created.token));
    },
  },

  'delete-room': {
    usage: `Usage: weft delete-room --room ROOM_ID [--purge] [--block]

Deletes a room: its local members are removed, and with --purge its events are
deleted from the database; --block stops it being joined. On a stopped server
the deletion is stored and runs when the server starts.
`,
    options: {
      room: { type: 'string' },
      purge: { type: 'boolean' },
      block: { type: 'boolean' },
    },
    stopped: async (server, values, print) => {
      const roomId = roomIdOf(values);
      if (!values.block && !(await server.storage.rooms.getRoom(roomId))) {
        throw new UsageError(`Unknown room ${roomId}`);
      }
      const body = { purge: values.purge === true, block: values.block === true };
      // No requesting user from the shell ('').
      const deletion = parseRoomDeletion(body, '', server.config.server_name);
      const job = newAdminJob('room_delete', roomId, { ...deletion }, Date.now());
      await server.storage.adminJobs.insertJob(job);
      print(`Deletion of ${roomId} stored (delete_id ${job.id}): it runs when the server starts`);
    },
    running: async (http, values, _config, print) => {
      const roomId = roomIdOf(values);
      const answer = await http.call('DELETE', `/v2/rooms/${enc(roomId)}`, {
        purge: values.purge === true,
        block: values.block === true,
      });
      print(
        answer.delete_id === undefined
          ? `Deleting ${roomId}`
          : `Deleting ${roomId}: delete_id ${String(answer.delete_id)}`,
      );
    },
  },
};

export function adminCommandUsage(name: AdminCommandName): string {
  return COMMANDS[name].usage + COMMON;
}

export interface AdminCommandContext {
  loadConfig: (path: string) => Config;
  configPath: (flag: string | undefined) => string;
  print: Print;
}

/** Runs `weft <name> <args>`; args hold every option but the command itself. */
export async function runAdminCommand(
  name: AdminCommandName,
  args: string[],
  context: AdminCommandContext,
): Promise<void> {
  const command = COMMANDS[name];
  const { values } = parseArgs({
    args,
    options: {
      ...command.options,
      config: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    context.print(adminCommandUsage(name));
    return;
  }
  const config = context.loadConfig(context.configPath(values.config as string | undefined));
  const baseUrl = await runningServerUrl(config);
  if (baseUrl) {
    const token = (values.token as string | undefined) ?? process.env.WEFT_ADMIN_TOKEN;
    if (!token) {
      throw new UsageError(
        `the server is running at ${baseUrl}: give an admin's access token with --token ` +
          'or WEFT_ADMIN_TOKEN (or stop the server)',
      );
    }
    return command.running(adminHttp(baseUrl, token), values, config, context.print);
  }
  if (!command.stopped) throw new UsageError(`${name} needs the server: start the server first`);
  await withStoppedServer(config, (server) => command.stopped!(server, values, context.print));
}

/** Where the config says the server listens, as a URL this machine can reach. */
export function localServerUrl(config: Config): string {
  const any = config.bind === '0.0.0.0' ? '127.0.0.1' : config.bind === '::' ? '::1' : config.bind;
  return `http://${any.includes(':') ? `[${any}]` : any}:${config.port}`;
}

/**
 * The server's URL if it answers GET /health (any status: a server whose
 * database is down is still running), undefined when nothing listens there.
 * Anything else (a timeout, say) is an error: guessing "stopped" could let
 * two processes write.
 */
async function runningServerUrl(config: Config): Promise<string | undefined> {
  // Port 0 is "any free port": a running server could be on any, so none can be ruled out.
  if (config.port === 0) {
    throw new UsageError('port is 0 in the config: set the port the server listens on (WEFT_PORT)');
  }
  const url = localServerUrl(config);
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
    return url;
  } catch (err) {
    const code = ((err as { cause?: { code?: string } }).cause ?? {}).code;
    if (code === 'ECONNREFUSED') return undefined;
    throw new UsageError(`cannot tell whether the server at ${url} is running: ${String(err)}`);
  }
}

function adminHttp(baseUrl: string, token: string): AdminHttp {
  return {
    async call(method, path, body) {
      const res = await fetch(`${baseUrl}/_synapse/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) {
        const detail = answer.errcode ? `${String(answer.errcode)}: ${String(answer.error)}` : '';
        throw new UsageError(`the server answered ${res.status} ${detail}`.trim());
      }
      return answer;
    },
  };
}

function roomIdOf(values: Values): string {
  const roomId = values.room;
  if (typeof roomId !== 'string' || roomId === '') throw new UsageError('--room ID is required');
  return roomId;
}

/** The Admin API's body for a new registration token, from --uses, --expiry-ts and --length. */
function newTokenBody(values: Values): Record<string, number> {
  const body: Record<string, number> = {};
  const uses = numberOption(values, 'uses');
  const expiry = numberOption(values, 'expiry-ts');
  const length = numberOption(values, 'length');
  if (uses !== undefined) body.uses_allowed = uses;
  if (expiry !== undefined) body.expiry_time = expiry;
  if (length !== undefined) body.length = length;
  return body;
}

async function withStoppedServer(
  config: Config,
  run: (server: StoppedServer) => Promise<void>,
): Promise<void> {
  mkdirSync(config.data_dir, { recursive: true });
  const storage = await openStorage(config, 'tool');
  const sessions = new SessionService(storage);
  try {
    const accounts = new AccountService(config, storage, sessions);
    // No device is listed here (whois is not among the commands).
    const admin = new AdminUserService(config.server_name, storage, { list: async () => [] });
    await run({ config, storage, accounts, admin });
  } finally {
    await sessions.close();
    await storage.close();
  }
}
