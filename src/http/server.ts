/**
 * The Fastify instance and the behaviour every endpoint shares: JSON bodies,
 * Matrix-shaped errors, 404/405, CORS, body limits and request logs that never
 * carry tokens or passwords.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { MatrixError, errors } from './errors.js';

export interface HttpOptions {
  logger: Logger;
  /** Trust X-Forwarded-For (Weft behind a reverse proxy). */
  trustProxy: boolean;
  maxBodyBytes: number;
  logRequests: boolean;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization',
};

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
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

  // CORS preflight on every path.
  app.options('*', async (_request, reply) => {
    reply.code(204).send();
  });

  app.setNotFoundHandler(async (request, reply) =>
    sendError(reply, request, errors.unrecognized()),
  );
  app.setErrorHandler(async (error, request, reply) =>
    sendError(reply, request, toMatrixError(error)),
  );
  return app;
}

/**
 * A scope whose routes get the request body as the raw stream, whatever its
 * Content-Type (media uploads, streamed to disk without being held in memory).
 * Routes outside it keep the JSON parser above; no body limit applies inside,
 * so its handlers must bound what they read.
 */
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

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw errors.notJson('Body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw errors.notJson();
  }
}

function sendError(reply: FastifyReply, request: FastifyRequest, error: MatrixError): FastifyReply {
  if (error.status >= 500) request.log.error({ err: error.cause ?? error }, 'request failed');
  return reply
    .code(error.status)
    .headers({ ...CORS_HEADERS, ...error.headers })
    .type('application/json')
    .send(error.body());
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
