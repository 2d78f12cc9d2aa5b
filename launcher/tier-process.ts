import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** Absolute path of a compiled entry point, such as `gateway/main.js`, inside `dist/`. */
export function entryPoint(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

/** Options of `startTier`. */
export interface TierOptions {
  /** Compiled entry point relative to `dist/`, such as `worker/main.js`. */
  readonly entry: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Receives each line the process writes to stdout (its JSON log). */
  readonly onLine?: (line: string) => void;
  /** Receives each line the process writes to stderr. */
  readonly onErrorLine?: (line: string) => void;
}

/** A running tier process. */
export interface TierProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Sends SIGTERM and waits for the exit; sends SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | string>;
}

/** Starts a tier as its own Node.js process, with its output delivered line by line. */
export function startTier(options: TierOptions): TierProcess {
  const child = spawn(process.execPath, [entryPoint(options.entry), ...options.args], {
    env: options.env ?? process.env,
    // The IPC channel lets the tier notice when this launcher dies and stop itself.
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });

  const stdout = child.stdout;
  const stderr = child.stderr;
  if (stdout) createInterface({ input: stdout }).on("line", (line) => options.onLine?.(line));
  if (stderr) {
    createInterface({ input: stderr }).on("line", (line) => options.onErrorLine?.(line));
  }

  const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | string);

  const stop = async (timeoutMs = 15_000): Promise<number | string> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return { child, exited, stop };
}

/** Tells whether a JSON log line is the one a tier writes once it takes work. */
export function isReadyLine(line: string): boolean {
  return line.includes('"msg":"ready"');
}

/**
 * Starts a tier and resolves once it logs `ready`. Rejects, after stopping the process,
 * when it exits first or is not ready within `readyTimeoutMs` (default 30000).
 */
export async function startTierWhenReady(
  options: TierOptions & { readonly readyTimeoutMs?: number },
): Promise<TierProcess> {
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const tier = startTier({
    ...options,
    onLine: (line) => {
      options.onLine?.(line);
      if (isReadyLine(line)) markReady();
    },
  });

  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => "ready"),
    tier.exited.then((code) => `exited with ${code}`),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`not ready after ${timeoutMs} ms`), timeoutMs);
    }),
  ]);
  clearTimeout(timer);

  if (outcome !== "ready") {
    await tier.stop();
    throw new Error(`${options.entry} did not start: ${outcome}`);
  }
  return tier;
}
