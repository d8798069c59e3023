/**
 * The PostgreSQL connection pool (node-postgres) and the few ways the stores
 * use it: a query, a row, a transaction. Stores write plain SQL with `$1`
 * placeholders; BIGINT columns come back as JavaScript numbers (every integer
 * Weft stores is below 2^53: positions, timestamps, counts).
 */
import { OperatorError } from '../../util/operator-error.js';
import pg from 'pg';
import { errors } from '../../protocol/errors.js';
import { probes, probing, secondsSince } from '../../util/probes.js';
import { latestPostgresSchemaVersion, postgresMigrations } from './migrations.js';

/** What runs a statement: the pool, or one transaction's connection. */
export interface PgExecutor {
  /** Every row of the result. */
  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** The first row, if any. */
  row<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface PgOptions {
  /** Connections the pool opens at most. */
  poolSize: number;
}

export class SchemaTooNewError extends OperatorError {}

const INT8_OID = 20;
const NUMERIC_OID = 1700;
// COUNT(*) and SUM() are BIGINT/NUMERIC; Weft's values fit a double.
const numberTypes = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === INT8_OID || oid === NUMERIC_OID) return Number;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** SQLSTATEs after which a transaction is simply run again: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;

/**
 * Statements run by name are prepared once per connection and then only
 * bound and executed: an indexed one-row SELECT went from 4,200 to 6,300
 * queries/s sequentially and 7,200 to 12,300 at 16 in flight on this machine
 * (node-postgres otherwise parses and plans every query anew). The stores'
 * SQL texts are constants (lists go as array parameters), so a few hundred
 * names cover them; beyond that, a statement runs unnamed rather than let a
 * generated text fill every connection's statement cache.
 */
const MAX_NAMED_STATEMENTS = 1000;
const statementNames = new Map<string, string>();

function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `weft_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * PostgreSQL's text cannot hold U+0000 (SQLite's can): a parameter with one
 * fails the statement. Such a value can be in no row, so a lookup would find
 * nothing and a write is refused: both are the client's 400, not a 500.
 * (JSON columns are safe: JSON.stringify writes the character as \u0000.)
 */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  return Array.isArray(value) && value.some(holdsNul);
}

/** A statement's round trip for the metrics (failed ones too: they cost the wait). */
function timed<T>(query: Promise<T>, start: number): Promise<T> {
  const observe = () => probes.databaseQuery('query', secondsSince(start));
  query.then(observe, observe);
  return query;
}

class Executor implements PgExecutor {
  constructor(private readonly target: pg.Pool | pg.PoolClient) {}

  async rows<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.query(sql, params)).rows as R[];
  }

  async row<R>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  private query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    if (params.some(holdsNul)) {
      return Promise.reject(
        errors.invalidParam('Text containing the character U+0000 cannot be stored or looked up'),
      );
    }
    // A statement of several commands (a migration) cannot be prepared.
    const name = params.length > 0 || !sql.includes(';') ? statementName(sql) : undefined;
    const start = probing() ? performance.now() : undefined;
    const query = this.target.query({
      name,
      text: sql,
      values: params as unknown[],
      types: numberTypes,
    });
    return start === undefined ? query : timed(query, start);
  }
}

export class PgDatabase implements PgExecutor {
  private readonly executor: Executor;

  private constructor(readonly pool: pg.Pool) {
    this.executor = new Executor(pool);
  }

  /** Connects and brings the schema up to date (refusing one newer than this code). */
  static async open(url: string, options: PgOptions): Promise<PgDatabase> {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize });
    // An idle connection's error (the server restarting) must not crash the process;
    // the pool drops that connection and the next query opens another.
    pool.on('error', () => {});
    const db = new PgDatabase(pool);
    try {
      await migrate(db);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return db;
  }

  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.executor.rows<R>(sql, params);
  }

  row<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.executor.row<R>(sql, params);
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.executor.run(sql, params);
  }

  /**
   * Runs `work` in one transaction on one connection: committed when it
   * resolves, rolled back when it throws. READ COMMITTED, as PostgreSQL's
   * default; where two requests could race on the same rows, the statements
   * take row locks (`FOR UPDATE`) or rely on unique constraints. A
   * serialization failure or deadlock runs `work` again, so it must not have
   * effects outside the database before it resolves.
   */
  async transaction<T>(work: (tx: PgExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work(new Executor(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        const code = (err as { code?: string }).code;
        if (attempt < MAX_ATTEMPTS && code !== undefined && RETRYABLE.has(code)) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function migrate(db: PgDatabase): Promise<void> {
  await db.transaction(async (tx) => {
    // One Weft at a time migrates: the others wait here, then find nothing to do.
    await tx.run('SELECT pg_advisory_xact_lock(7365726)');
    await tx.run(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ts BIGINT NOT NULL)',
    );
    const row = await tx.row<{ version: number | null }>(
      'SELECT MAX(version) AS version FROM schema_version',
    );
    const current = row?.version ?? 0;
    if (current > latestPostgresSchemaVersion) {
      throw new SchemaTooNewError(
        `The database schema is at version ${current}, but this Weft only knows versions up to ` +
          `${latestPostgresSchemaVersion}. It was written by a newer Weft: run that version, or restore a backup.`,
      );
    }
    for (const migration of postgresMigrations) {
      if (migration.version <= current) continue;
      await tx.run(migration.sql);
      await tx.run('INSERT INTO schema_version (version, applied_ts) VALUES ($1, $2)', [
        migration.version,
        Date.now(),
      ]);
    }
  });
}
