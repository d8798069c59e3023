#!/usr/bin/env node
/**
 * The `weft` command: start the server, write a config file, create a user
 * from the shell (as Synapse's register_new_matrix_user does), or copy a
 * SQLite database into PostgreSQL (migrate-db.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { defaultConfig, applyEnvironment, loadConfig, type Config } from '../config/config.js';
import { renderConfigYaml } from '../config/generate.js';
import { MatrixError } from '../protocol/errors.js';
import { OperatorError } from '../util/operator-error.js';
import { ADMIN_COMMAND_SUMMARY, COMMAND_USAGE, UsageError, isAdminCommand } from './usage.js';

// The server, the storage drivers and the migrator are imported by the commands that
// use them: `--help`, `generate-config` and the others start without loading the rest.

const USAGE = `Usage: weft <command> [options]

Commands:
  start                 Start the homeserver (writes a config file on first start)
  generate-config       Write a commented config file and exit
  register-user         Create a user: --user NAME [--password PW] [--admin]
  migrate-db            Copy a stopped server's SQLite database into an empty
                        PostgreSQL one: --to postgres://USER@HOST/DB (default:
                        the config's database.url when its backend is postgres)
${ADMIN_COMMAND_SUMMARY}

Options:
  --config PATH         Config file (default: $WEFT_CONFIG or ./weft.yaml)
`;

function configPathFrom(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.WEFT_CONFIG ?? 'weft.yaml');
}

/** Loads the config file, writing a generated one first if there is none. */
function loadOrGenerateConfig(configPath: string): Config {
  if (!existsSync(configPath)) {
    writeConfigFile(configPath, applyEnvironment(defaultConfig(), process.env));
    console.log(`Wrote a new config file to ${configPath}`);
  }
  return loadConfig(configPath).config;
}

function writeConfigFile(configPath: string, config: Config): void {
  mkdirSync(path.dirname(configPath), { recursive: true });
  writeFileSync(configPath, renderConfigYaml(config), { flag: 'wx' });
}

async function start(configPath: string): Promise<void> {
  const config = loadOrGenerateConfig(configPath);
  const { createLogger, startWeft } = await import('../app.js');
  const logger = createLogger(config);
  const weft = await startWeft(config, { logger });
  logger.info(
    { server_name: config.server_name, url: weft.url, metrics_url: weft.metricsUrl },
    'Weft is listening',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    weft.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function registerUser(
  configPath: string,
  args: { user?: string; password?: string; admin?: boolean },
) {
  const config = loadOrGenerateConfig(configPath);
  if (!args.user) throw new UsageError('register-user needs --user NAME');
  const password = args.password ?? (await askPassword());
  mkdirSync(config.data_dir, { recursive: true });
  const [{ openStorage }, { SessionService }, { AccountService }] = await Promise.all([
    import('../storage/open-storage.js'),
    import('../auth/sessions.js'),
    import('../account/account-service.js'),
  ]);
  const storage = await openStorage(config, 'tool');
  const sessions = new SessionService(storage);
  try {
    const accounts = new AccountService(config, storage, sessions);
    const userId = await accounts.claimableUserId(args.user);
    await accounts.register({
      userId,
      password,
      isAdmin: args.admin ?? false,
      inhibitLogin: true,
      ip: null,
    });
    console.log(`Created ${args.admin ? 'admin ' : ''}user ${userId}`);
  } finally {
    await sessions.close();
    await storage.close();
  }
}

async function askPassword(): Promise<string> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY,
  });
  try {
    const password = await rl.question('Password: ');
    if (!password) throw new UsageError('A password is required');
    return password;
  } finally {
    rl.close();
  }
}

/** Copies the data_dir's SQLite database into PostgreSQL (migrate-db.ts). */
async function migrateDatabase(configPath: string, to: string | undefined): Promise<void> {
  // No config file is written: the command only reads where the data is.
  const { config } = loadConfig(configPath);
  const targetUrl =
    to ?? (config.database.backend === 'postgres' ? config.database.url : undefined);
  if (!targetUrl) throw new UsageError('migrate-db needs --to postgres://…');
  if (!/^postgres(ql)?:\/\//.test(targetUrl)) {
    throw new UsageError('migrate-db --to must be a postgres:// URL');
  }
  const [{ migrateSqliteToPostgres }, { sqliteDatabasePath }] = await Promise.all([
    import('./migrate-db.js'),
    import('../storage/open-storage.js'),
  ]);
  await migrateSqliteToPostgres({
    sqliteFile: sqliteDatabasePath(config),
    targetUrl,
    print: (line) => console.log(line),
    progress: (line) => console.error(line),
  });
}

async function main(argv: string[]): Promise<void> {
  // The operator's commands read their own options (admin-commands.ts).
  const adminAt = argv.findIndex(isAdminCommand);
  const adminCommand = argv[adminAt];
  if (
    isAdminCommand(adminCommand) &&
    argv.slice(0, adminAt).every((_, i) => isConfigOption(argv, i))
  ) {
    const { runAdminCommand } = await import('./admin-commands.js');
    return runAdminCommand(adminCommand, [...argv.slice(0, adminAt), ...argv.slice(adminAt + 1)], {
      loadConfig: loadOrGenerateConfig,
      configPath: configPathFrom,
      print: (line) => console.log(line),
    });
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      admin: { type: 'boolean' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log((command && COMMAND_USAGE[command]) ?? USAGE);
    return;
  }
  const configPath = configPathFrom(values.config);
  switch (command) {
    case 'start':
      return start(configPath);
    case 'generate-config':
      if (existsSync(configPath)) throw new UsageError(`${configPath} exists already`);
      writeConfigFile(configPath, applyEnvironment(defaultConfig(), process.env));
      console.log(`Wrote ${configPath}`);
      return;
    case 'register-user':
      return registerUser(configPath, values);
    case 'migrate-db':
      return migrateDatabase(configPath, values.to);
    default:
      throw new UsageError(`Unknown command '${command}'\n\n${USAGE}`);
  }
}

/** Whether argv[i] is `--config` or its value (what may come before an operator's command). */
function isConfigOption(argv: string[], i: number): boolean {
  return argv[i] === '--config' || argv[i - 1] === '--config' || argv[i]!.startsWith('--config=');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(describeFailure(err));
  process.exit(1);
});

/** One line for what a user can fix; the whole error for anything else. */
function describeFailure(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  // Unknown or malformed options (from parseArgs) are usage errors, not crashes.
  if (code?.startsWith('ERR_PARSE_ARGS_')) return `weft: ${(err as Error).message}`;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return `weft: cannot listen: ${(err as Error).message}`;
  }
  if (err instanceof OperatorError) return `weft: ${err.message}`;
  if (err instanceof MatrixError) return `weft: ${err.errcode}: ${err.message}`;
  return err;
}
