import { alreadyExists, conflict, notFound } from "./api-status.js";
import { EventHistory } from "./event-history.js";
import { cloneJson } from "./json-value.js";
import { kubeTimestamp, namespaceOf, type KubeObject, type StoreEvent } from "./kube-object.js";
import { namespaceType, ResourceRegistry, type ResourceType } from "./resource-types.js";
import { prepareCreate, prepareUpdate } from "./write-rules.js";

/** A resource as a ResourceType or as a name kubectl accepts, e.g. `es` or `namespaces`. */
export type ResourceRef = ResourceType | string;

/** Options every write accepts. */
export interface WriteOptions {
  /** Validate and return the result without storing it, like `dryRun=All`. */
  dryRun?: boolean;
}

/** Preconditions of a delete, from the DeleteOptions body. */
export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

/** Default number of events kept for watches to resume from. */
export const defaultHistoryLimit = 1000;

/**
 * In-memory objects of every served resource, with one global, monotonically increasing
 * resourceVersion as etcd has: every stored write takes the next integer.
 */
export class ObjectStore {
  readonly history: EventHistory;
  private readonly objects = new Map<ResourceType, Map<string, KubeObject>>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private revision = 0;

  constructor(
    readonly registry: ResourceRegistry,
    historyLimit: number = defaultHistoryLimit,
  ) {
    this.history = new EventHistory(historyLimit);
  }

  /** The resourceVersion of the latest write, as a string like the API server sends it. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  /** Calls a listener synchronously after every stored change. Returns a function that removes it. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops the watch history up to the current resourceVersion, so a watch from any older one gets 410. */
  compact(): number {
    this.history.compact(this.revision);
    return this.revision;
  }

  /** Returns a copy of one object, or undefined. Use "" as the namespace of cluster-scoped objects. */
  get(ref: ResourceRef, namespace: string, name: string): KubeObject | undefined {
    const type = this.resolve(ref);
    const object = this.bucket(type).get(objectKey(namespace, name));
    return object === undefined ? undefined : cloneJson(object);
  }

  /** Returns a copy of one object, or throws a 404 ApiError. */
  mustGet(ref: ResourceRef, namespace: string, name: string): KubeObject {
    const type = this.resolve(ref);
    const object = this.get(type, namespace, name);
    if (object === undefined) {
      throw notFound(type, name);
    }
    return object;
  }

  /** Returns copies of the objects of a resource, in one namespace or all, sorted by namespace then name. */
  list(ref: ResourceRef, namespace?: string): KubeObject[] {
    const type = this.resolve(ref);
    const keys = [...this.bucket(type).keys()].sort();
    const objects = keys.map((key) => this.bucket(type).get(key) as KubeObject);
    const selected =
      namespace === undefined || namespace === ""
        ? objects
        : objects.filter((object) => namespaceOf(object) === namespace);
    return selected.map((object) => cloneJson(object));
  }

  /**
   * Creates an object from a request body. Throws ApiError 404 when its namespace does not exist,
   * 409 AlreadyExists when the name is taken, and 400 or 422 when the body is invalid.
   * `keepStatus` stores `.status` as given, which loading fixtures needs.
   */
  create(
    ref: ResourceRef,
    namespace: string,
    body: unknown,
    options: WriteOptions & { keepStatus?: boolean } = {},
  ): KubeObject {
    const type = this.resolve(ref);
    const object = prepareCreate(type, body, { namespace }, options.keepStatus ?? false);
    const name = object.metadata.name;

    const namespacesServed = this.registry.types().includes(namespaceType);
    if (
      type.namespaced &&
      namespacesServed &&
      this.get(namespaceType, "", namespace) === undefined
    ) {
      throw notFound(namespaceType, namespace);
    }
    if (this.bucket(type).has(objectKey(namespace, name))) {
      throw alreadyExists(type, name);
    }
    if (options.dryRun === true) {
      return object;
    }

    return this.commit("ADDED", type, object, undefined);
  }

  /**
   * Replaces an object, as PUT does, or only its `.status` when `subresource` is `status`.
   * Throws ApiError 404, 409 Conflict for a stale `metadata.resourceVersion`, 400 or 422.
   * A write that changes nothing returns the stored object without a new resourceVersion.
   */
  replace(
    ref: ResourceRef,
    namespace: string,
    name: string,
    body: unknown,
    options: WriteOptions & { subresource?: string } = {},
  ): KubeObject {
    const type = this.resolve(ref);
    const existing = this.mustGet(type, namespace, name);
    const target =
      options.subresource === undefined
        ? { namespace }
        : { namespace, subresource: options.subresource };
    const object = prepareUpdate(type, existing, body, target);

    if (object === undefined || options.dryRun === true) {
      return object ?? existing;
    }
    if (
      object.metadata.deletionTimestamp !== undefined &&
      (object.metadata.finalizers ?? []).length === 0
    ) {
      return this.remove(type, object);
    }
    return this.commit("MODIFIED", type, object, existing);
  }

  /**
   * Deletes an object. An object with finalizers only gets `metadata.deletionTimestamp` and stays
   * until an update removes the last finalizer. Deleting a Namespace deletes every object in it first.
   * Returns the deleted (or terminating) object.
   */
  delete(
    ref: ResourceRef,
    namespace: string,
    name: string,
    options: WriteOptions & { preconditions?: DeletePreconditions } = {},
  ): KubeObject {
    const type = this.resolve(ref);
    const existing = this.mustGet(type, namespace, name);
    checkPreconditions(type, existing, options.preconditions);

    if (options.dryRun === true) {
      return existing;
    }
    if ((existing.metadata.finalizers ?? []).length > 0) {
      if (existing.metadata.deletionTimestamp !== undefined) {
        return existing;
      }
      const terminating = cloneJson(existing);
      terminating.metadata.deletionTimestamp = kubeTimestamp();
      terminating.metadata["deletionGracePeriodSeconds"] = 0;
      return this.commit("MODIFIED", type, terminating, existing);
    }
    if (type === namespaceType) {
      this.deleteNamespaceContents(name);
    }
    return this.remove(type, existing);
  }

  private deleteNamespaceContents(namespace: string): void {
    for (const type of this.registry.types()) {
      if (!type.namespaced) {
        continue;
      }
      for (const object of this.list(type, namespace)) {
        this.remove(type, object);
      }
    }
  }

  private remove(type: ResourceType, existing: KubeObject): KubeObject {
    this.revision += 1;
    const deleted = cloneJson(existing);
    deleted.metadata.resourceVersion = String(this.revision);
    this.bucket(type).delete(objectKey(namespaceOf(existing), existing.metadata.name));
    this.emit({ type: "DELETED", resource: type, object: deleted, resourceVersion: this.revision });
    return cloneJson(deleted);
  }

  private commit(
    eventType: "ADDED" | "MODIFIED",
    type: ResourceType,
    object: KubeObject,
    previous: KubeObject | undefined,
  ): KubeObject {
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    this.bucket(type).set(objectKey(namespaceOf(object), object.metadata.name), cloneJson(object));

    const event: StoreEvent = {
      type: eventType,
      resource: type,
      object: cloneJson(object),
      resourceVersion: this.revision,
    };
    if (previous !== undefined) {
      event.previous = previous;
    }
    this.emit(event);
    return object;
  }

  private emit(event: StoreEvent): void {
    this.history.record(event);
    for (const listener of [...this.listeners]) {
      listener(event);
    }
  }

  private resolve(ref: ResourceRef): ResourceType {
    return typeof ref === "string" ? this.registry.resolve(ref) : ref;
  }

  private bucket(type: ResourceType): Map<string, KubeObject> {
    let bucket = this.objects.get(type);
    if (bucket === undefined) {
      bucket = new Map();
      this.objects.set(type, bucket);
    }
    return bucket;
  }
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function checkPreconditions(
  type: ResourceType,
  existing: KubeObject,
  preconditions: DeletePreconditions | undefined,
): void {
  const name = existing.metadata.name;
  if (preconditions?.uid !== undefined && preconditions.uid !== existing.metadata.uid) {
    throw conflict(
      type,
      name,
      `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${existing.metadata.uid ?? ""}`,
    );
  }
  const resourceVersion = preconditions?.resourceVersion;
  if (resourceVersion !== undefined && resourceVersion !== existing.metadata.resourceVersion) {
    const cause = `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ""}`;
    throw conflict(type, name, cause);
  }
}
