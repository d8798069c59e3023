/**
 * Push rules (client-server API, "Push Rules: API"): `GET /pushrules/`,
 * `GET /pushrules/global/`, and one rule at `/pushrules/global/{kind}/{ruleId}`
 * (GET, PUT with `before`/`after`, DELETE) with its `/enabled` and `/actions`.
 *
 * Only the trailing-slash forms of the listings are served, as Synapse does:
 * matrix-js-sdk calls exactly `/pushrules/`; Synapse answers `/pushrules` with
 * 404 and `/pushrules/global` with 400 M_UNRECOGNIZED. Weft's router does not
 * ignore trailing slashes, so both are 404 M_UNRECOGNIZED here. Another scope
 * than `global` matches no route either (404 M_UNRECOGNIZED; Synapse: 400).
 * Guests are refused by the router, as by Synapse (matrix-js-sdk fetches no
 * push rules for guests).
 */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalBoolean, queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { PushRuleService } from '../../push/push-rule-service.js';
import { parseRuleKind, type RulePosition } from '../../push/ruleset.js';
import { RULE_KINDS, type RuleKind } from '../../domain/push-rules.js';

interface RuleParams {
  kind: string;
  ruleId: string;
}

const RULE = '/pushrules/global/:kind/:ruleId';
const AUTH = { auth: 'required' } as const;

function userOf(request: FastifyRequest): string {
  return ownerOf(request).userId;
}

function paramsOf(request: FastifyRequest): RuleParams {
  return request.params as RuleParams;
}

/**
 * The kind in the path; unknown → 400 M_INVALID_PARAM. Synapse answers 400 too
 * (M_UNKNOWN "Unknown template" on PUT, M_UNRECOGNIZED on GET).
 */
function kindOf(request: FastifyRequest): RuleKind {
  return parseRuleKind(paramsOf(request).kind);
}

/**
 * DELETE of an unknown kind names no rule: 404 M_NOT_FOUND, the one error the
 * spec lists for DELETE and what Synapse answers (its lookup finds nothing).
 */
function kindToDelete(request: FastifyRequest): RuleKind {
  const { kind } = paramsOf(request);
  if (!(RULE_KINDS as readonly string[]).includes(kind))
    throw errors.notFound('Push rule not found');
  return kind as RuleKind;
}

/** `before`/`after` query parameters; empty ones are ignored, as Synapse does. */
function positionOf(request: FastifyRequest): RulePosition {
  const position: RulePosition = {};
  const before = queryString(request.query, 'before');
  const after = queryString(request.query, 'after');
  if (before) position.before = before;
  if (after) position.after = after;
  return position;
}

/**
 * The body of `PUT …/enabled`: `{"enabled": true}`. A bare boolean is accepted
 * as well, as Synapse does, because many clients send one.
 */
function enabledOf(body: unknown): boolean {
  if (typeof body === 'boolean') return body;
  const enabled = optionalBoolean(objectBody(body), 'enabled');
  if (enabled === undefined) throw errors.missingParam('enabled');
  return enabled;
}

export function registerPushRuleRoutes(router: Router, pushRules: PushRuleService): void {
  router.client('GET', '/pushrules/', AUTH, async (request) => pushRules.content(userOf(request)));

  router.client('GET', '/pushrules/global/', AUTH, async (request) =>
    pushRules.ruleset(userOf(request)),
  );

  // Not in the spec: one kind's rules, as an array. A Synapse extension some clients use.
  router.client('GET', '/pushrules/global/:kind/', AUTH, async (request) => {
    const kind = kindOf(request);
    return (await pushRules.ruleset(userOf(request)))[kind];
  });

  registerRuleRoutes(router, pushRules);
  registerAttributeRoutes(router, pushRules);
}

function registerRuleRoutes(router: Router, pushRules: PushRuleService): void {
  router.client('GET', RULE, AUTH, async (request) =>
    pushRules.rule(userOf(request), kindOf(request), paramsOf(request).ruleId),
  );

  router.client('PUT', RULE, AUTH, async (request) => {
    const kind = kindOf(request);
    const { ruleId } = paramsOf(request);
    await pushRules.putRule(userOf(request), kind, ruleId, request.body, positionOf(request));
    return {};
  });

  router.client('DELETE', RULE, AUTH, async (request) => {
    await pushRules.deleteRule(userOf(request), kindToDelete(request), paramsOf(request).ruleId);
    return {};
  });
}

function registerAttributeRoutes(router: Router, pushRules: PushRuleService): void {
  router.client('GET', `${RULE}/enabled`, AUTH, async (request) => {
    const rule = await pushRules.rule(userOf(request), kindOf(request), paramsOf(request).ruleId);
    return { enabled: rule.enabled };
  });

  router.client('PUT', `${RULE}/enabled`, AUTH, async (request) => {
    const kind = kindOf(request);
    const enabled = enabledOf(request.body);
    await pushRules.setEnabled(userOf(request), kind, paramsOf(request).ruleId, enabled);
    return {};
  });

  router.client('GET', `${RULE}/actions`, AUTH, async (request) => {
    const rule = await pushRules.rule(userOf(request), kindOf(request), paramsOf(request).ruleId);
    return { actions: rule.actions };
  });

  router.client('PUT', `${RULE}/actions`, AUTH, async (request) => {
    const kind = kindOf(request);
    const { actions } = objectBody(request.body);
    await pushRules.setActions(userOf(request), kind, paramsOf(request).ruleId, actions);
    return {};
  });
}
