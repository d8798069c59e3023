/**
 * Where log lines go: JSON lines to stdout (pino's default, for collectors),
 * or, for a terminal, pino-pretty's readable lines. pino-pretty is loaded
 * only when asked for, so a JSON-logging server never pays for it.
 */
import { createRequire } from 'node:module';
import type { DestinationStream } from 'pino';

const require = createRequire(import.meta.url);

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/** undefined: pino's own stdout destination (JSON). */
export function logDestination(format: 'json' | 'pretty'): DestinationStream | undefined {
  if (format === 'json') return undefined;
  const pretty = require('pino-pretty') as PrettyFactory;
  return pretty({
    // In-process and synchronous: a line written before a crash is not lost in a worker.
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
}
