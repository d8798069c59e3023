/**
 * What the fallback pages share: the page frame, HTML escaping, a small fetch
 * helper for their scripts, and the headers that lock the pages down.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/** A script inlined in a page, with the hash the Content-Security-Policy allows it by. */
export interface InlineScript {
  source: string;
  hash: string;
}

export interface Page {
  title: string;
  /** The inside of `<main>`, already escaped. */
  body: string;
  script?: InlineScript;
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export function inlineScript(source: string): InlineScript {
  return { source, hash: sha256(source) };
}

/**
 * `fetchJson(method, url, body)` for the page scripts: the parsed JSON answer,
 * or an Error carrying the server's `error` text, ready to show to the user.
 */
export const FETCH_JSON_SOURCE = `
async function fetchJson(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error('Could not reach the server. Check your connection and try again.');
  }
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.error || 'The server answered ' + response.status + '.');
  return json;
}
`;

const STYLE = `
body { font-family: system-ui, sans-serif; line-height: 1.5; max-width: 28rem; margin: 2rem auto; padding: 0 1rem; }
label, input, button { display: block; font: inherit; }
input { box-sizing: border-box; width: 100%; margin: 0.25rem 0 1rem; padding: 0.4rem; }
button { padding: 0.4rem 1.2rem; }
#error { color: #b00020; }
`;
const STYLE_HASH = sha256(STYLE);

export function renderPage(page: Page): string {
  const script = page.script ? `\n<script>${page.script.source}</script>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${page.body}
</main>${script}
</body>
</html>
`;
}

/**
 * Only this page's own script and style may run, it may talk to its own origin
 * only, and no other site may frame it (a framed password form or confirm
 * button invites clickjacking). `form-action 'none'` stops a native submit,
 * which would otherwise put the password in a URL if the script failed.
 */
function securityHeaders(page: Page): Record<string, string> {
  const scriptSrc = page.script ? page.script.hash : "'none'";
  return {
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${scriptSrc}`,
      `style-src ${STYLE_HASH}`,
      "connect-src 'self'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    // The UIA session ID is in the page's URL: keep it out of Referer headers.
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

export function sendPage(reply: FastifyReply, status: number, page: Page): FastifyReply {
  return reply
    .code(status)
    .headers(securityHeaders(page))
    .type('text/html; charset=utf-8')
    .send(renderPage(page));
}

/** A page that only explains what went wrong (an error a person reads, not a client). */
export function sendErrorPage(
  reply: FastifyReply,
  status: number,
  title: string,
  message: string,
): FastifyReply {
  return sendPage(reply, status, {
    title,
    body: `<h1>${escapeHtml(title)}</h1>\n<p id="error" role="alert">${escapeHtml(message)}</p>`,
  });
}
