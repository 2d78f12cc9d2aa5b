import { RE2JS } from "re2js";

import type { Logger } from "../shared/logger.js";
import {
  formatObjectKey,
  readObjectRef,
  readReferences,
  type ExternalSecretObject,
  type ObjectRef,
} from "./external-secret.js";
import type { Labels } from "./label-selector.js";

/** One `find.name.regexp`, compiled once when its object enters the index. */
interface FindPattern {
  readonly source: string;
  /** `undefined` when the pattern is not valid RE2 syntax; such a pattern never matches. */
  readonly regexp: RE2JS | undefined;
}

/** An ExternalSecret as the index stores it: what filters and matching need, nothing else. */
export interface IndexedExternalSecret extends ObjectRef {
  readonly labels: Labels;
  readonly exactKeys: ReadonlySet<string>;
  readonly findPatterns: readonly FindPattern[];
}

/**
 * Maps secret identifiers to the ExternalSecrets that reference them, kept current from
 * informer events.
 *
 * A lookup costs one Map read for the exact keys plus one RE2 search per
 * `find.name.regexp` in the cluster, so it grows with the matches and the regexps, not
 * with the number of ExternalSecrets. Find patterns follow Go's `regexp.MatchString`
 * (RE2 syntax, unanchored search), as External Secrets Operator uses it.
 */
export class ReferenceIndex {
  private readonly logger: Logger;
  private readonly objects = new Map<string, IndexedExternalSecret>();
  private readonly objectKeysByIdentifier = new Map<string, Set<string>>();
  private readonly objectsWithFindPatterns = new Map<string, IndexedExternalSecret>();

  /** @param logger receives one warning per object and invalid regexp. */
  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Number of ExternalSecrets in the index. */
  get size(): number {
    return this.objects.size;
  }

  /**
   * Adds an ExternalSecret or replaces the stored version of it. Objects without a
   * namespace or name are ignored. Find patterns that did not change since the stored
   * version are reused, not compiled again.
   */
  upsert(object: ExternalSecretObject): void {
    const ref = readObjectRef(object);
    if (ref === undefined) {
      return;
    }

    const key = formatObjectKey(ref);
    const previous = this.objects.get(key);
    if (previous !== undefined) {
      this.unlink(key, previous);
    }

    const references = readReferences(object);
    const entry: IndexedExternalSecret = {
      namespace: ref.namespace,
      name: ref.name,
      labels: object.metadata?.labels,
      exactKeys: references.exactKeys,
      findPatterns: this.compileFindPatterns(ref, references.findRegexps, previous),
    };

    this.link(key, entry);
  }

  /** Removes an ExternalSecret; does nothing when it is not in the index. */
  remove(object: ExternalSecretObject): void {
    const ref = readObjectRef(object);
    if (ref === undefined) {
      return;
    }

    const key = formatObjectKey(ref);
    const previous = this.objects.get(key);
    if (previous !== undefined) {
      this.unlink(key, previous);
    }
  }

  /**
   * Returns every ExternalSecret that references `identifier` by an exact key or a find
   * regexp, each once, sorted by namespace and name.
   */
  findReferencing(identifier: string): IndexedExternalSecret[] {
    const found = new Map<string, IndexedExternalSecret>();

    for (const key of this.objectKeysByIdentifier.get(identifier) ?? []) {
      const entry = this.objects.get(key);
      if (entry !== undefined) {
        found.set(key, entry);
      }
    }

    for (const [key, entry] of this.objectsWithFindPatterns) {
      if (
        !found.has(key) &&
        entry.findPatterns.some((pattern) => pattern.regexp?.test(identifier))
      ) {
        found.set(key, entry);
      }
    }

    return [...found.values()].sort(compareByNamespaceAndName);
  }

  private link(key: string, entry: IndexedExternalSecret): void {
    this.objects.set(key, entry);

    for (const identifier of entry.exactKeys) {
      let keys = this.objectKeysByIdentifier.get(identifier);
      if (keys === undefined) {
        keys = new Set();
        this.objectKeysByIdentifier.set(identifier, keys);
      }
      keys.add(key);
    }

    if (entry.findPatterns.length > 0) {
      this.objectsWithFindPatterns.set(key, entry);
    }
  }

  private unlink(key: string, entry: IndexedExternalSecret): void {
    this.objects.delete(key);
    this.objectsWithFindPatterns.delete(key);

    for (const identifier of entry.exactKeys) {
      const keys = this.objectKeysByIdentifier.get(identifier);
      keys?.delete(key);
      if (keys?.size === 0) {
        this.objectKeysByIdentifier.delete(identifier);
      }
    }
  }

  private compileFindPatterns(
    ref: ObjectRef,
    sources: readonly string[],
    previous: IndexedExternalSecret | undefined,
  ): FindPattern[] {
    return sources.map((source) => {
      const reused = previous?.findPatterns.find((pattern) => pattern.source === source);
      if (reused !== undefined) {
        return reused;
      }

      return { source, regexp: this.compileFindPattern(ref, source) };
    });
  }

  private compileFindPattern(ref: ObjectRef, source: string): RE2JS | undefined {
    try {
      return RE2JS.compile(source);
    } catch (error) {
      this.logger.warn(
        {
          namespace: ref.namespace,
          name: ref.name,
          regexp: source,
          reason: error instanceof Error ? error.message : String(error),
        },
        "ignoring invalid spec.dataFrom[].find.name.regexp: it is not valid RE2 syntax and matches no identifier until the ExternalSecret is fixed",
      );
      return undefined;
    }
  }
}

function compareByNamespaceAndName(left: ObjectRef, right: ObjectRef): number {
  if (left.namespace !== right.namespace) {
    return left.namespace < right.namespace ? -1 : 1;
  }

  if (left.name !== right.name) {
    return left.name < right.name ? -1 : 1;
  }

  return 0;
}
