/**
 * The Fastify instance and the behaviour every endpoint shares: JSON bodies,
 * Matrix-shaped errors, 404/405, CORS, body limits and request logs that never
 * carry tokens or passwords.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { MAX_NESTING_DEPTH } from '../events/canonical-json.js';
import { MatrixError, errors } from '../protocol/errors.js';

export interface HttpOptions {
  logger: Logger;
  /** Trust X-Forwarded-For (Weft behind a reverse proxy). */
  trustProxy: boolean;
  maxBodyBytes: number;
  logRequests: boolean;
  /**
   * Told of every answer (metrics.enabled): the method, the template of the
   * route that served it (undefined: none did), the status and Fastify's
   * elapsed time. Absent: no hook at all.
   */
  observeResponse?: (method: string, route: string | undefined, status: number, ms: number) => void;
}

/**
 * How much of a request body nobody reads (an endpoint that takes none, one
 * refused before or while its body was read, a body over the limit) is read
 * and thrown away before the answer is sent. Closing a socket with unread
 * bytes in it makes the kernel reset the connection, and a client still
 * writing its body then gets EPIPE/ECONNRESET instead of the answer. Beyond
 * this the answer is sent and the connection closed (the client may see a
 * reset then): a client sending that much where nothing is read is not owed
 * the bandwidth.
 */
export const MAX_DISCARDED_BODY_BYTES = 16 * 1024 * 1024;

function noSchemaCompiler(): never {
  throw new Error('Weft routes declare no schemas: read fields with protocol/params.ts');
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization',
};

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    // Weft's routes declare no JSON schemas (handlers read fields with the spec's error
    // codes instead), so Fastify's ajv and fast-json-stringify compilers are never
    // loaded: they were ~8% of a start-up. A route with a schema fails at start, loudly.
    schemaController: {
      compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler },
    },
    // Weft logs requests itself (onResponse below), without query strings.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    trustProxy: options.trustProxy,
    // Room aliases, event IDs and such can be long; the default is 100.
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: false },
    return503OnClosing: true,
    frameworkErrors: (error, request, reply) => {
      // Malformed URLs and the like: the client's fault, never a 500.
      void sendError(reply, request, toMatrixError(error));
    },
    // Requests Node's HTTP parser refuses (bad request line, headers too large)
    // still get a Matrix error body and the CORS headers.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const matrixError =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? new MatrixError(431, 'M_TOO_LARGE', 'Request line or headers too large')
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? new MatrixError(408, 'M_UNKNOWN', 'Request timed out')
            : new MatrixError(400, 'M_UNKNOWN', 'Malformed HTTP request');
      const body = JSON.stringify(matrixError.body());
      const headers = Object.entries(CORS_HEADERS)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${matrixError.status} ${STATUS_CODES[matrixError.status]}\r\n` +
            `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
            `${headers}connection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy(error);
    },
  }) as unknown as FastifyInstance;

  app.decorateRequest('owner', null);

  app.removeAllContentTypeParsers();
  // Every body is JSON on the client API, whatever Content-Type the client sent
  // (Synapse does the same; some clients send none).
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // A callback hook, not an async one: it runs on every request.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(CORS_HEADERS);
    done();
  });

  // Every answer waits until the request body has been read to its end. Node
  // answers as soon as a handler does and, when the connection is to close
  // (the client sent `Connection: close`, or Fastify's body parser refused the
  // body, e.g. over `bodyLimit`, and set it), destroys the socket right after
  // the answer: with the rest of the body unread, the client is reset while
  // writing it and never reads the answer. A callback hook: a body already
  // read (every request but those) costs one property check. A stream already ended is
  // read too: `complete` is node:http's, and a request injected by Fastify's `inject`
  // (light-my-request) has only `readableEnded`.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.raw.complete || request.raw.readableEnded) {
      done(null, payload);
      return;
    }
    discardBody(request.raw, reply, () => done(null, payload));
  });

  if (options.logRequests) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info(
        {
          method: request.method,
          // The path only: the query string may hold an access token.
          path: request.url.split('?', 1)[0],
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      );
    });
  }

  const observe = options.observeResponse;
  if (observe) {
    // A callback hook: it runs on every request.
    app.addHook('onResponse', (request, reply, done) => {
      try {
        observe(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
      } finally {
        done();
      }
    });
  }

  // CORS preflight on every path.
  app.options('*', async (_request, reply) => {
    reply.code(204).send();
  });

  app.setNotFoundHandler(async (request, reply) =>
    sendError(reply, request, errors.unrecognized()),
  );
  app.setErrorHandler(async (error, request, reply) =>
    sendError(
      reply,
      request,
      // A client that went away in the middle of its body (an upload's stream
      // fails with "aborted") is nobody's fault here: no 500, no error logged.
      request.raw.readableAborted && !(error instanceof MatrixError)
        ? new MatrixError(400, 'M_UNKNOWN', 'The client aborted the request')
        : toMatrixError(error),
    ),
  );
  return app;
}

/**
 * A scope whose routes get the request body as the raw stream, whatever its
 * Content-Type (media uploads, streamed to disk without being held in memory).
 * Routes outside it keep the JSON parser above; no body limit applies inside,
 * so its handlers must bound what they read.
 */
/**
 * Fastify's close, with keep-alive connections closed as they go idle. Node
 * closes only the connections idle when the close begins: one whose request is
 * answered a moment later stays open, and holds the close, until its client
 * sends again (another server's next transaction, 30 s on). Requests in flight
 * still finish.
 */
export async function closeHttpServer(app: FastifyInstance): Promise<void> {
  const sweeping = setInterval(() => app.server.closeIdleConnections(), 50);
  try {
    await app.close();
  } finally {
    clearInterval(sweeping);
  }
}

export function withRawBodyRoutes(
  app: FastifyInstance,
  register: (scope: FastifyInstance) => void,
): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    register(scope);
  });
}

/**
 * Reads what is left of `raw`'s body and drops it, then calls `done`: at the
 * end of the body, when the request is aborted, or after
 * MAX_DISCARDED_BODY_BYTES (then, and for a body declared larger than that,
 * the connection is closed after the answer).
 */
function discardBody(raw: IncomingMessage, reply: FastifyReply, done: () => void): void {
  // Aborted already: nobody is left to answer (and no 'close' will come).
  if (raw.destroyed) {
    done();
    return;
  }
  if (Number(raw.headers['content-length']) > MAX_DISCARDED_BODY_BYTES) {
    reply.header('connection', 'close');
    done();
    return;
  }
  let discarded = 0;
  const finish = () => {
    raw.off('data', onData);
    raw.off('end', finish);
    raw.off('close', finish);
    raw.off('error', finish);
    done();
  };
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded <= MAX_DISCARDED_BODY_BYTES) return;
    raw.pause();
    reply.header('connection', 'close');
    finish();
  };
  raw.on('data', onData);
  raw.on('end', finish);
  raw.on('close', finish);
  raw.on('error', finish);
  // A data listener alone does not restart a stream paused explicitly (a
  // media upload's pipe, unpiped when it refused the file).
  raw.resume();
}

/**
 * The shortest JSON text nested deeper than MAX_NESTING_DEPTH: one more
 * opening bracket than the limit, and as many closing ones.
 */
const SHORTEST_TOO_DEEP = 2 * (MAX_NESTING_DEPTH + 1);

/**
 * A request body as JSON: strict UTF-8, then JSON.parse (M_NOT_JSON), then
 * the one nesting limit of every JSON body, before any handler sees it.
 *
 * The spec sets no depth limit. Weft's is canonical JSON's MAX_NESTING_DEPTH
 * (512 levels of arrays/objects, the top-level value being level 1): a body
 * that could not be signed or hashed is refused at the door, and no handler
 * recursing over a body (JSON.stringify included, which overflowed the stack
 * at 10,000 levels) meets one deeper than that. It is M_BAD_JSON, as canonical
 * JSON answers, not M_NOT_JSON: the text is valid JSON, only a value Weft
 * will not take.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw errors.notJson('Body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw errors.notJson();
  }
  if (text.length >= SHORTEST_TOO_DEEP) checkNesting(value);
  return value;
}

/**
 * Throws M_BAD_JSON if `value` nests arrays/objects deeper than
 * MAX_NESTING_DEPTH. A walk over the parsed value with a stack of its own (no
 * recursion): it visits only containers, so strings, the bulk of most bodies,
 * cost nothing. Measured on 64–90 KiB bodies: 0% of JSON.parse's time for a
 * long message, 10–20% for key uploads and to-device batches, 20–35% for
 * thousands of tiny objects; a scan of the text counting brackets outside
 * strings took 15–95%. Bodies too short to be too deep skip it.
 */
function checkNesting(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  const containers: object[] = [value];
  const depths: number[] = [1];
  while (containers.length > 0) {
    const container = containers.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop() as number;
    if (depth > MAX_NESTING_DEPTH) {
      throw errors.badJson(`JSON nested deeper than ${MAX_NESTING_DEPTH} levels`);
    }
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const item = container[i];
        if (typeof item === 'object' && item !== null) {
          containers.push(item);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in container) {
        const item = container[key];
        if (typeof item === 'object' && item !== null) {
          containers.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
}

function sendError(reply: FastifyReply, request: FastifyRequest, error: MatrixError): FastifyReply {
  if (error.status >= 500) request.log.error({ err: error.cause ?? error }, 'request failed');
  return reply
    .code(error.status)
    .headers({ ...CORS_HEADERS, ...headersOf(error) })
    .type('application/json')
    .send(error.body());
}

/** The response headers an error brings: Retry-After for a rate limit (in seconds, at least 1). */
function headersOf(error: MatrixError): Record<string, string> {
  const retryAfterMs = error.extra.retry_after_ms;
  if (error.errcode !== 'M_LIMIT_EXCEEDED' || typeof retryAfterMs !== 'number') return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
}

function toMatrixError(error: unknown): MatrixError {
  if (error instanceof MatrixError) return error;
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.tooLarge();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.notJson();
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return errors.unrecognized('Malformed URL');
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new MatrixError(status, 'M_UNKNOWN', fastifyError.message ?? 'Bad request');
  }
  const internal = new MatrixError(500, 'M_UNKNOWN', 'Internal server error');
  internal.cause = error;
  return internal;
}
