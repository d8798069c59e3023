/**
 * The shapes of push rules as the spec defines them (client-server API, "Push Rules";
 * api/client-server/definitions/push_rule.yaml, push_condition.yaml, push_ruleset.yaml).
 */
import type { JsonValue } from '../events/pdu.js';

/** The rule kinds, in the order they are checked ("Push Rules": override, content, room, sender, underride). */
export const RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** `{ "set_tweak": name, "value"?: … }`; tweaks pass through the server untouched. */
export interface TweakAction {
  set_tweak: string;
  value?: JsonValue;
}

/** An action after normalisation: the legacy `dont_notify` and `coalesce` are gone. */
export type PushAction = 'notify' | TweakAction;

/** A condition of an override or underride rule; unrecognised kinds are kept and never match. */
export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: JsonValue;
}

/** A rule as clients see it in `GET /pushrules/` and in `m.push_rules` account data. */
export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  /** Override and underride rules only. */
  conditions?: PushCondition[];
  /** Content rules only: a glob matched against `content.body` on word boundaries. */
  pattern?: string;
}

/** One ruleset, each kind's rules in evaluation order (highest priority first). */
export type PushRuleset = Record<RuleKind, PushRule[]>;

/** The content of `m.push_rules` account data and the body of `GET /pushrules/`. */
export interface PushRulesContent {
  global: PushRuleset;
}

/** What the user changed on one server-default rule. */
export interface DefaultRuleChange {
  enabled?: boolean;
  actions?: PushAction[];
}

/** What storage keeps for a user: their own rules and their changes to the server defaults. */
export interface UserPushRules {
  /** The user's own rules per kind, highest priority first; `default` is always false. */
  custom: PushRuleset;
  /** Enabled flags and actions the user set on server-default rules, by rule ID (unique across kinds). */
  defaults: Record<string, DefaultRuleChange>;
}
