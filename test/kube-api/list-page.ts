import { badRequest, expired } from "./api-status.js";
import { namespaceOf, type KubeObject } from "./kube-object.js";

/** One page of a list response. */
export interface ListPage {
  items: KubeObject[];
  /** The resourceVersion of the list. Pages after the first repeat the first page's. */
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

/** The decoded form of a continue token, in the shape the API server's etcd3 store uses. */
interface ContinueState {
  v: "meta.k8s.io/v1";
  rv: number;
  start: string;
}

function keyOf(object: KubeObject): string {
  return `${namespaceOf(object)}/${object.metadata.name}`;
}

function decodeContinue(token: string): ContinueState {
  try {
    const state = JSON.parse(
      Buffer.from(token, "base64url").toString("utf8"),
    ) as Partial<ContinueState>;
    if (
      state.v === "meta.k8s.io/v1" &&
      typeof state.rv === "number" &&
      typeof state.start === "string"
    ) {
      return state as ContinueState;
    }
  } catch {
    // Reported below with the same message as a token of the wrong shape.
  }
  throw badRequest(
    `continue key is not valid: "${token}" was not returned by this server; start a new list without continue`,
  );
}

function encodeContinue(state: ContinueState): string {
  return Buffer.from(JSON.stringify(state)).toString("base64url");
}

/**
 * Cuts one page out of objects sorted by namespace and name. A limit of 0 or none returns the rest.
 * Throws ApiError 410 Expired when the token's resourceVersion was compacted, as the API server does.
 */
export function paginate(
  objects: KubeObject[],
  options: { limit?: number; continueToken?: string },
  currentRevision: number,
  compactedRevision: number,
): ListPage {
  let remaining = objects;
  let listRevision = currentRevision;

  if (options.continueToken !== undefined) {
    const state = decodeContinue(options.continueToken);
    if (state.rv < compactedRevision) {
      throw expired(
        "The provided continue parameter is too old to display a consistent list result. " +
          "You can start a new list without the continue parameter.",
      );
    }
    // NOTE: later pages show the objects as they are now, not a snapshot at the first page's
    // resourceVersion as etcd would, because the store keeps no old versions.
    listRevision = state.rv;
    remaining = objects.filter((object) => keyOf(object) > state.start);
  }

  const limit = options.limit ?? 0;
  if (limit === 0 || remaining.length <= limit) {
    return { items: remaining, resourceVersion: String(listRevision) };
  }

  const items = remaining.slice(0, limit);
  const last = items[items.length - 1] as KubeObject;
  return {
    items,
    resourceVersion: String(listRevision),
    continueToken: encodeContinue({ v: "meta.k8s.io/v1", rv: listRevision, start: keyOf(last) }),
    remainingItemCount: remaining.length - limit,
  };
}
