/**
 * The UIA fallback page (`/auth/{authType}/fallback/web?session=…`): completes
 * one stage of a UIA session in a browser, for clients that do not know the
 * stage. The page posts the form as JSON to its own path; the client then
 * retries its original request with `auth: {session}` alone.
 */
import type { FastifyRequest } from 'fastify';
import { STAGE_DUMMY, STAGE_PASSWORD, STAGE_REGISTRATION_TOKEN } from '../../auth/uia-stages.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, requiredString, type JsonObject } from '../../protocol/params.js';
import type { Router } from '../../http/router.js';
import type { ClientApiServices } from '../client/services.js';
import {
  FETCH_JSON_SOURCE,
  escapeHtml,
  inlineScript,
  sendErrorPage,
  sendPage,
  type Page,
} from './html.js';

const FALLBACK_PATH = '/auth/:authType/fallback/web';

interface SessionInfo {
  userId: string | null;
  operation: string;
}

interface FallbackStage {
  type: string;
  title: string;
  /** The form's inputs (HTML); none for a plain confirmation. */
  fields: string;
  submitLabel: string;
  /** Whether the stage authenticates the session's user (so needs one). */
  needsUser: boolean;
  /** The stage's fields of the `auth` dict, from the page's POST body. */
  authFields(body: JsonObject, session: SessionInfo): JsonObject;
}

const FALLBACK_STAGES: FallbackStage[] = [
  {
    type: STAGE_DUMMY,
    title: 'Confirm',
    fields: '',
    submitLabel: 'Confirm',
    needsUser: false,
    authFields: () => ({}),
  },
  {
    type: STAGE_PASSWORD,
    title: 'Confirm your password',
    fields: `<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>`,
    submitLabel: 'Confirm',
    needsUser: true,
    // The page asks for the password only: the user is the one the session belongs to.
    authFields: (body, session) => ({
      identifier: { type: 'm.id.user', user: session.userId },
      password: requiredString(body, 'password'),
    }),
  },
  {
    type: STAGE_REGISTRATION_TOKEN,
    title: 'Registration token',
    fields: `<label for="token">Registration token</label>
<input id="token" name="token" autocomplete="off" autocapitalize="none" spellcheck="false" required>`,
    submitLabel: 'Continue',
    needsUser: false,
    authFields: (body) => ({ token: requiredString(body, 'token') }),
  },
];
const STAGES = new Map(FALLBACK_STAGES.map((stage) => [stage.type, stage]));

const UIA_SCRIPT = inlineScript(`
'use strict';
${FETCH_JSON_SOURCE}
(() => {
  const form = document.getElementById('auth');
  const button = form.querySelector('button');
  const status = document.getElementById('status');
  const error = document.getElementById('error');
  const session = new URLSearchParams(location.search).get('session');

  // What the spec asks of the page once the stage is complete.
  function signalDone() {
    if (typeof window.onAuthDone === 'function') {
      window.onAuthDone();
    } else if (window.opener) {
      window.opener.postMessage('authDone', '*');
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    button.disabled = true;
    const body = Object.fromEntries(new FormData(form));
    body.session = session;
    try {
      // The page's own path, so the r0 alias posts to r0.
      await fetchJson('POST', location.pathname, body);
    } catch (err) {
      error.textContent = err.message;
      button.disabled = false;
      return;
    }
    form.hidden = true;
    status.textContent = 'Done. You can close this window and return to your app.';
    signalDone();
  });
})();
`);

/** The stage named in the path; 404 M_UNRECOGNIZED for any Weft does not serve. */
function stageOf(request: FastifyRequest): FallbackStage {
  const { authType } = request.params as { authType: string };
  const stage = STAGES.get(authType);
  if (!stage) throw errors.unrecognized(`No fallback page for ${authType}`);
  return stage;
}

function sessionIdOf(request: FastifyRequest): string | undefined {
  const session = (request.query as Record<string, unknown> | undefined)?.session;
  return typeof session === 'string' && session !== '' ? session : undefined;
}

function stagePage(stage: FallbackStage, session: SessionInfo): Page {
  // Say what is being authorised, so a link someone else sent is not confirmed blindly.
  const who = session.userId ? ` as <strong>${escapeHtml(session.userId)}</strong>` : '';
  const body = `<h1>${escapeHtml(stage.title)}</h1>
<p>Authorise the request <code>${escapeHtml(session.operation)}</code>${who}.</p>
<noscript><p>This page needs JavaScript.</p></noscript>
<form id="auth" method="post">
${stage.fields}
<button type="submit">${escapeHtml(stage.submitLabel)}</button>
</form>
<p id="status" role="status"></p>
<p id="error" role="alert"></p>`;
  return { title: stage.title, body, script: UIA_SCRIPT };
}

export function registerUiaFallback(router: Router, services: ClientApiServices): void {
  const { uia } = services;

  router.client('GET', FALLBACK_PATH, { auth: 'none' }, async (request, reply) => {
    const stage = stageOf(request);
    const sessionId = sessionIdOf(request);
    if (sessionId === undefined) {
      return sendErrorPage(
        reply,
        400,
        'No session',
        'This link has no session. Start again from your app.',
      );
    }
    const session = await uia.sessionInfo(sessionId);
    if (!session) {
      return sendErrorPage(
        reply,
        404,
        'Session expired',
        'This session is unknown or has expired. Start again from your app.',
      );
    }
    if (stage.needsUser && session.userId === null) {
      return sendErrorPage(
        reply,
        400,
        'Wrong stage',
        'This session has no user whose password could be checked.',
      );
    }
    return sendPage(reply, 200, stagePage(stage, session));
  });

  router.client('POST', FALLBACK_PATH, { auth: 'none' }, async (request) => {
    const stage = stageOf(request);
    const body = objectBody(request.body);
    const sessionId = requiredString(body, 'session');
    const session = await uia.sessionInfo(sessionId);
    if (!session) throw errors.notFound('Unknown or expired session');
    if (stage.needsUser && session.userId === null) {
      throw errors.invalidParam('This session has no user whose password could be checked');
    }
    const authDict = { ...stage.authFields(body, session), type: stage.type, session: sessionId };
    // The stage checks apply the same rate limits as the other ways in.
    await uia.completeOutOfBand(sessionId, stage.type, authDict, request.ip);
    return {};
  });
}
