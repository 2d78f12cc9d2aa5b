import type { JsonObject } from "./json-value.js";
import type { ResourceType } from "./resource-types.js";

/** The `metadata` of a stored object. Fields the emulator sets itself are typed, and the rest pass through. */
export type ObjectMeta = JsonObject & {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
};

/** A Kubernetes object as the emulator stores and sends it. */
export type KubeObject = JsonObject & {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
};

/** A change recorded by the store, as a watch sends it. */
export interface StoreEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: ResourceType;
  /** The object after the change. For DELETED, the last state with the deletion's resourceVersion. */
  object: KubeObject;
  /** The object before a MODIFIED change, so label-filtered watches can turn it into ADDED or DELETED. */
  previous?: KubeObject;
  resourceVersion: number;
}

/** Returns the namespace of an object, or "" for cluster-scoped objects. */
export function namespaceOf(object: KubeObject): string {
  return object.metadata.namespace ?? "";
}

/** Returns the time in the format Kubernetes uses for timestamps: RFC 3339, seconds precision, UTC. */
export function kubeTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
