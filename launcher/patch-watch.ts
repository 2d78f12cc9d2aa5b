import type { KubeApiEmulator } from "../test/kube-api/emulator.js";
import {
  LAST_ROTATED_ANNOTATION,
  TRIGGER_SOURCE_ANNOTATION,
} from "../worker/annotation-patcher.js";

/** One change of `reloader/last-rotated` on an ExternalSecret. */
export interface PatchSighting {
  readonly namespace: string;
  readonly name: string;
  readonly lastRotated: string;
  readonly triggerSource: string;
}

/**
 * Calls `onPatch` each time an ExternalSecret in the emulator gets a new
 * `reloader/last-rotated` value. Returns a function that stops watching.
 */
export function watchPatches(
  emulator: KubeApiEmulator,
  onPatch: (sighting: PatchSighting) => void,
): () => void {
  return emulator.store.subscribe((event) => {
    if (event.type !== "MODIFIED" || event.resource.plural !== "externalsecrets") return;

    const annotations = event.object.metadata.annotations ?? {};
    const lastRotated = annotations[LAST_ROTATED_ANNOTATION];
    const before = event.previous?.metadata.annotations?.[LAST_ROTATED_ANNOTATION];
    if (lastRotated === undefined || lastRotated === before) return;

    onPatch({
      namespace: event.object.metadata.namespace ?? "",
      name: event.object.metadata.name ?? "",
      lastRotated: String(lastRotated),
      triggerSource: String(annotations[TRIGGER_SOURCE_ANNOTATION] ?? ""),
    });
  });
}
