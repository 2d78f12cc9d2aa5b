import type { ExternalSecretDestination, ReloaderConfig } from "../shared/config-schema.js";
import { ErrorCode, ReloaderError, type ConfigProblem } from "../shared/errors.js";
import { matchesLabelSelector, validateLabelSelector, type Labels } from "./label-selector.js";

/** The fields of an ExternalSecret that destination filters look at. */
export interface DestinationCandidate {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
}

/**
 * Returns the labels of a namespace, `{}` for a namespace without labels, or `undefined`
 * when the namespace is not in the cache.
 */
export type NamespaceLabelsLookup = (
  namespace: string,
) => Readonly<Record<string, string>> | undefined;

/** Raised when the destination filters of a Config contain an invalid label selector. */
export class DestinationFilterError extends ReloaderError {
  readonly configName: string;
  readonly problems: readonly ConfigProblem[];

  constructor(configName: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((problem) => `  ${problem.path}: ${problem.message}`);
    super(
      ErrorCode.ConfigInvalid,
      `invalid destination filters in Config "${configName}"; fix these fields and restart the worker:\n${lines.join("\n")}`,
    );
    this.configName = configName;
    this.problems = problems;
  }
}

/**
 * Returns whether an ExternalSecret passes one destination. Every field present must hold:
 *
 * - `names`: the object's name is one of them. An empty list is no filter, like an absent one.
 * - `labelSelectors`: the object's labels match.
 * - `namespaceSelectors`: at least one selector matches the labels of the object's
 *   namespace. An empty list is no filter. A namespace missing from the cache matches none.
 */
export function matchesDestination(
  destination: ExternalSecretDestination,
  candidate: DestinationCandidate,
  lookupNamespaceLabels: NamespaceLabelsLookup,
): boolean {
  const names = destination.names ?? [];
  if (names.length > 0 && !names.includes(candidate.name)) {
    return false;
  }

  if (!matchesLabelSelector(destination.labelSelectors, candidate.labels)) {
    return false;
  }

  const namespaceSelectors = destination.namespaceSelectors ?? [];
  if (namespaceSelectors.length === 0) {
    return true;
  }

  const namespaceLabels = lookupNamespaceLabels(candidate.namespace);
  if (namespaceLabels === undefined) {
    return false;
  }

  return namespaceSelectors.some((selector) => matchesLabelSelector(selector, namespaceLabels));
}

/**
 * Returns whether an ExternalSecret passes at least one of the destinations of a Config.
 * A Config without destinations matches nothing.
 */
export function matchesAnyDestination(
  destinations: readonly ExternalSecretDestination[],
  candidate: DestinationCandidate,
  lookupNamespaceLabels: NamespaceLabelsLookup,
): boolean {
  return destinations.some((destination) =>
    matchesDestination(destination, candidate, lookupNamespaceLabels),
  );
}

/**
 * Checks every label selector in the destinations of a Config and returns the problems
 * found, located by paths such as `destinations[0].namespaceSelectors[1].matchExpressions[0].values`.
 */
export function validateDestinations(config: ReloaderConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];

  config.destinations.forEach((destination, destinationIndex) => {
    const path = `destinations[${destinationIndex}]`;

    if (destination.labelSelectors !== undefined) {
      problems.push(...validateLabelSelector(destination.labelSelectors, `${path}.labelSelectors`));
    }

    (destination.namespaceSelectors ?? []).forEach((selector, selectorIndex) => {
      problems.push(
        ...validateLabelSelector(selector, `${path}.namespaceSelectors[${selectorIndex}]`),
      );
    });
  });

  return problems;
}

/**
 * Validates the destinations of every Config.
 *
 * @throws DestinationFilterError for the first Config with an invalid selector, listing all
 *   of its problems.
 */
export function assertValidDestinations(configs: readonly ReloaderConfig[]): void {
  for (const config of configs) {
    const problems = validateDestinations(config);
    if (problems.length > 0) {
      throw new DestinationFilterError(config.name, problems);
    }
  }
}
