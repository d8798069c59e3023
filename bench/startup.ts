/**
 * Start-up (issue 18): how long `node dist/cli/main.js start` takes to answer its first
 * `/versions`, and the RSS it then sits at. Each start is a new process, as an operator's
 * restart is; the time runs from the spawn to the first 200 answer (polled every 5 ms).
 */
import { startWeftServer } from './server-process.js';

/** After the first answer, how long a server is left alone before its RSS is read. */
const SETTLE_MS = 1_000;

export interface StartupRuns {
  /** Spawn → first answer, per start, in ms. */
  readyMs: number[];
  /** CPU time (all threads) used by then, per start, in ms: steadier than wall time here. */
  cpuMs: number[];
  /** RSS a second after the first answer, per start, in bytes. */
  idleRssBytes: number[];
}

/**
 * `runs` starts, one after the other: on a fresh data folder each (`dataDir` undefined),
 * or all on `dataDir`, which must exist already (a previous Weft's).
 */
export async function startups(runs: number, dataDir?: string): Promise<StartupRuns> {
  const result: StartupRuns = { readyMs: [], cpuMs: [], idleRssBytes: [] };
  for (let i = 0; i < runs; i++) {
    const server = await startWeftServer({ logRequests: false, dataDir });
    try {
      result.readyMs.push(server.readyMs);
      result.cpuMs.push(server.readyCpuSeconds * 1000);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      result.idleRssBytes.push(server.rssBytes());
    } finally {
      await server.stop();
    }
  }
  return result;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
