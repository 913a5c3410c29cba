// Label selectors: matching, and a short text for explanations. Matching is on the hot path of the
// verifier, so it loops over plain arrays made once per selector rather than re-reading the object.
import type { LabelSelector } from './types.js';

export interface CompiledSelector {
  selector: LabelSelector;
  /** True for `{}`: matches everything, no work needed. */
  matchesAll: boolean;
  labelKeys: string[];
  labelValues: string[];
}

export function compileSelector(selector: LabelSelector): CompiledSelector {
  const labelKeys = Object.keys(selector.matchLabels).sort();
  return {
    selector,
    matchesAll: labelKeys.length === 0 && selector.matchExpressions.length === 0,
    labelKeys,
    labelValues: labelKeys.map((k) => selector.matchLabels[k]),
  };
}

/** Every term must hold (terms are ANDed), as the Kubernetes API defines. */
export function selectorMatches(s: CompiledSelector, labels: Record<string, string>): boolean {
  if (s.matchesAll) return true;
  for (let i = 0; i < s.labelKeys.length; i++) {
    if (labels[s.labelKeys[i]] !== s.labelValues[i]) return false;
  }
  for (const req of s.selector.matchExpressions) {
    const has = Object.hasOwn(labels, req.key);
    switch (req.operator) {
      case 'In':
        if (!has || !req.values.includes(labels[req.key])) return false;
        break;
      case 'NotIn':
        // A pod without the key satisfies NotIn.
        if (has && req.values.includes(labels[req.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The first term that fails, in words, or undefined when the selector matches. */
export function selectorMismatch(s: CompiledSelector, labels: Record<string, string>): string | undefined {
  for (let i = 0; i < s.labelKeys.length; i++) {
    const k = s.labelKeys[i];
    if (labels[k] !== s.labelValues[i]) {
      return labels[k] === undefined
        ? `has no label ${k} (needs ${k}=${s.labelValues[i]})`
        : `has ${k}=${labels[k]}, needs ${k}=${s.labelValues[i]}`;
    }
  }
  for (const req of s.selector.matchExpressions) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    const list = req.values.join(', ');
    if (req.operator === 'In' && (!has || !req.values.includes(value))) {
      return has ? `has ${req.key}=${value}, not in (${list})` : `has no label ${req.key} (needs one of ${list})`;
    }
    if (req.operator === 'NotIn' && has && req.values.includes(value)) return `has ${req.key}=${value}, in (${list})`;
    if (req.operator === 'Exists' && !has) return `has no label ${req.key}`;
    if (req.operator === 'DoesNotExist' && has) return `has label ${req.key}`;
  }
  return undefined;
}

/** `app=web, tier in (a, b), legacy does not exist`, or `{} (all)`. Deterministic: labels sorted by key. */
export function describeSelector(s: LabelSelector): string {
  const terms: string[] = [];
  for (const k of Object.keys(s.matchLabels).sort()) terms.push(`${k}=${s.matchLabels[k]}`);
  for (const r of s.matchExpressions) {
    if (r.operator === 'In') terms.push(`${r.key} in (${r.values.join(', ')})`);
    else if (r.operator === 'NotIn') terms.push(`${r.key} notin (${r.values.join(', ')})`);
    else if (r.operator === 'Exists') terms.push(`${r.key} exists`);
    else terms.push(`${r.key} does not exist`);
  }
  return terms.length === 0 ? '{} (all)' : terms.join(', ');
}
