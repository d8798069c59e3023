/**
 * The floor for per-request overhead: a bare node:http server that does what
 * whoami fundamentally needs (read the bearer token, look it up in a Map,
 * answer a JSON body held in memory) and nothing else. Run as its own process
 * by server-process.ts; configured by BARE_PORT, BARE_TOKEN and BARE_BODY.
 */
import { createServer } from 'node:http';

const port = Number(process.env.BARE_PORT);
const token = process.env.BARE_TOKEN;
const body = process.env.BARE_BODY;
if (!Number.isInteger(port) || !token || !body) {
  console.error('bare-server needs BARE_PORT, BARE_TOKEN and BARE_BODY');
  process.exit(2);
}

// The same body bytes Weft sends, and the same CORS headers, so both servers
// put the same response on the wire.
const owners = new Map<string, Buffer>([[token, Buffer.from(body)]]);
const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization',
};
const UNKNOWN_TOKEN = Buffer.from(
  JSON.stringify({ errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown access token' }),
);

const server = createServer((request, response) => {
  if (request.url === '/_matrix/client/versions') {
    // Only for the readiness poll.
    response.writeHead(200, HEADERS).end('{"versions":[]}');
    return;
  }
  const header = request.headers.authorization;
  const found = header?.startsWith('Bearer ') ? owners.get(header.slice(7)) : undefined;
  if (request.url !== '/_matrix/client/v3/account/whoami' || found === undefined) {
    response.writeHead(401, HEADERS).end(UNKNOWN_TOKEN);
    return;
  }
  response.writeHead(200, { ...HEADERS, 'content-length': found.length }).end(found);
});

server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
