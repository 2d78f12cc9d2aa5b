import type { ConfigProblem } from "../shared/errors.js";
import type { LabelSelector, LabelSelectorRequirement } from "../shared/config-schema.js";

/**
 * Kubernetes label selectors (metav1.LabelSelector): validation with the API server's rules
 * and matching with its semantics. `matchLabels` and every `matchExpressions` requirement
 * must all hold.
 */

/** Operators of a `matchExpressions` requirement. */
export const SelectorOperator = {
  In: "In",
  NotIn: "NotIn",
  Exists: "Exists",
  DoesNotExist: "DoesNotExist",
} as const;
export type SelectorOperator = (typeof SelectorOperator)[keyof typeof SelectorOperator];

/** Labels of an object; `undefined` when the object has none. */
export type Labels = Readonly<Record<string, string>> | undefined;

const LABEL_NAME_MAX_LENGTH = 63;
const LABEL_PREFIX_MAX_LENGTH = 253;
const LABEL_NAME_PATTERN = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Returns whether `labels` satisfy `selector`. An empty selector (`{}`) matches every
 * object. An absent selector also matches every object, because every selector field of a
 * Config is optional and leaving it out means "no filter".
 *
 * The selector must have passed {@link validateLabelSelector}. An invalid one is still
 * evaluated with set semantics (In with no values matches nothing), never rejected here.
 */
export function matchesLabelSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (selector === undefined) {
    return true;
  }

  const present = labels ?? {};

  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (readLabel(present, key) !== value) {
      return false;
    }
  }

  for (const requirement of selector.matchExpressions ?? []) {
    if (!matchesRequirement(requirement, present)) {
      return false;
    }
  }

  return true;
}

/**
 * Returns whether one requirement holds. NotIn and DoesNotExist hold when the key is
 * absent, as in Kubernetes.
 */
export function matchesRequirement(
  requirement: LabelSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const value = readLabel(labels, requirement.key);
  const values = requirement.values ?? [];

  switch (requirement.operator) {
    case SelectorOperator.In:
      return value !== undefined && values.includes(value);
    case SelectorOperator.NotIn:
      return value === undefined || !values.includes(value);
    case SelectorOperator.Exists:
      return value !== undefined;
    case SelectorOperator.DoesNotExist:
      return value === undefined;
    default:
      // Validation rejects other operators. One that slips through matches nothing.
      return false;
  }
}

/**
 * Checks a selector against the rules the Kubernetes API server applies and returns every
 * problem found, each located under `path` (for example
 * `destinations[0].labelSelectors.matchExpressions[1].values`). Returns an empty list for a
 * valid selector.
 */
export function validateLabelSelector(selector: LabelSelector, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];

  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const keyProblem = describeInvalidLabelKey(key);
    if (keyProblem !== undefined) {
      problems.push({ path: `${path}.matchLabels`, message: keyProblem });
    }

    const valueProblem = describeInvalidLabelValue(value);
    if (valueProblem !== undefined) {
      problems.push({ path: `${path}.matchLabels.${key}`, message: valueProblem });
    }
  }

  (selector.matchExpressions ?? []).forEach((requirement, index) => {
    problems.push(...validateRequirement(requirement, `${path}.matchExpressions[${index}]`));
  });

  return problems;
}

function validateRequirement(requirement: LabelSelectorRequirement, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];

  const keyProblem = describeInvalidLabelKey(requirement.key);
  if (keyProblem !== undefined) {
    problems.push({ path: `${path}.key`, message: keyProblem });
  }

  const operator: string = requirement.operator;
  const values = requirement.values ?? [];

  switch (operator) {
    case SelectorOperator.In:
    case SelectorOperator.NotIn:
      if (values.length === 0) {
        problems.push({
          path: `${path}.values`,
          message: `operator ${operator} requires at least one value, but values is empty or missing; list the label values to compare with`,
        });
      }
      break;
    case SelectorOperator.Exists:
    case SelectorOperator.DoesNotExist:
      if (values.length > 0) {
        problems.push({
          path: `${path}.values`,
          message: `operator ${operator} takes no values, but ${values.length} were given; remove values or use In or NotIn`,
        });
      }
      break;
    default:
      problems.push({
        path: `${path}.operator`,
        message: `invalid operator "${operator}"; expected one of ${Object.values(SelectorOperator).join(", ")}`,
      });
  }

  values.forEach((value, index) => {
    const valueProblem = describeInvalidLabelValue(value);
    if (valueProblem !== undefined) {
      problems.push({ path: `${path}.values[${index}]`, message: valueProblem });
    }
  });

  return problems;
}

/**
 * Returns why `key` is not a valid label key, or `undefined` when it is. A key is an
 * optional DNS subdomain prefix and a slash, then a name of at most 63 characters.
 */
export function describeInvalidLabelKey(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);

  if (prefix !== undefined) {
    const prefixValid =
      prefix.length > 0 &&
      prefix.length <= LABEL_PREFIX_MAX_LENGTH &&
      DNS_SUBDOMAIN_PATTERN.test(prefix);
    if (!prefixValid) {
      return `invalid label key "${key}": the prefix before "/" must be a lowercase DNS subdomain of at most ${LABEL_PREFIX_MAX_LENGTH} characters`;
    }
  }

  const nameValid = name.length <= LABEL_NAME_MAX_LENGTH && LABEL_NAME_PATTERN.test(name);
  if (!nameValid) {
    return `invalid label key "${key}": the name must be 1-${LABEL_NAME_MAX_LENGTH} characters of [A-Za-z0-9-_.], starting and ending with a letter or digit`;
  }

  return undefined;
}

/**
 * Returns why `value` is not a valid label value, or `undefined` when it is. A value is
 * empty or at most 63 characters of `[A-Za-z0-9-_.]`, starting and ending with a letter or digit.
 */
export function describeInvalidLabelValue(value: string): string | undefined {
  if (value === "") {
    return undefined;
  }

  const valid = value.length <= LABEL_NAME_MAX_LENGTH && LABEL_NAME_PATTERN.test(value);
  if (!valid) {
    return `invalid label value "${value}": expected at most ${LABEL_NAME_MAX_LENGTH} characters of [A-Za-z0-9-_.], starting and ending with a letter or digit`;
  }

  return undefined;
}

/** Reads a label without consulting the prototype chain, so a key like `constructor` is safe. */
function readLabel(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}
