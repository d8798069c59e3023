/** What the `weft` command prints for --help, per command, and its usage errors. */

/** A mistake the operator can fix: printed as one line, exit status 1. */
export class UsageError extends Error {}

const CONFIG_OPTION = `
Options:
  --config PATH   Config file (default: $WEFT_CONFIG or ./weft.yaml)
`;

/** The usage of each of main.ts's own commands (admin-commands.ts has its own). */
export const COMMAND_USAGE: Record<string, string> = {
  start: `Usage: weft start [--config PATH]

Starts the homeserver (writes a config file on first start).
${CONFIG_OPTION}`,
  'generate-config': `Usage: weft generate-config [--config PATH]

Writes a commented config file and exits (refuses to overwrite one).
${CONFIG_OPTION}`,
  'register-user': `Usage: weft register-user --user NAME [--password PW] [--admin]

Creates a user on a stopped server (the password is read from stdin if not
given); --admin makes them a server admin.
${CONFIG_OPTION}`,
  'migrate-db': `Usage: weft migrate-db [--to postgres://USER@HOST/DB]

Copies a stopped server's SQLite database into an empty PostgreSQL one
(default target: the config's database.url when its backend is postgres).
${CONFIG_OPTION}`,
};
