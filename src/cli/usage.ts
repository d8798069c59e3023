/** What the `weft` command prints for --help, per command, and its usage errors. */

import { OperatorError } from '../util/operator-error.js';

/** A mistake in the command line: printed as one line, exit status 1. */
export class UsageError extends OperatorError {}

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

/** The operator's commands (admin-commands.ts runs them; its table must name each). */
export const ADMIN_COMMANDS = [
  'reset-password',
  'deactivate',
  'list-users',
  'make-admin',
  'create-registration-token',
  'delete-room',
] as const;
export type AdminCommandName = (typeof ADMIN_COMMANDS)[number];

export function isAdminCommand(name: string | undefined): name is AdminCommandName {
  return (ADMIN_COMMANDS as readonly (string | undefined)[]).includes(name);
}

/** The one-line summaries of the main usage text. */
export const ADMIN_COMMAND_SUMMARY = `  reset-password        Set a user's password: --user NAME --password PW
  deactivate            Deactivate a user: --user NAME [--erase]
  list-users            Print every user
  make-admin            Make a user a server admin: --user NAME [--revoke]
  create-registration-token  Create a registration token (running server)
  delete-room           Delete a room: --room ROOM_ID (running server)
  (weft <command> --help: that command's options; with the server running they
  go through its Admin API, with an admin's --token or $WEFT_ADMIN_TOKEN)`;
