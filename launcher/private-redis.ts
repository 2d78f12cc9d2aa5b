import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { Redis } from "ioredis";

/** A `redis-server` started for one run, holding nothing on disk. */
export interface PrivateRedis {
  readonly url: string;
  readonly process: ChildProcess;
  close(): Promise<void>;
}

/** Says how to get a Redis when `redis-server` is not on PATH. */
export const REDIS_INSTALL_HINT =
  "redis-server was not found on PATH. Install it (Debian/Ubuntu: sudo apt-get install " +
  "redis-server; macOS: brew install redis) or point REDIS_URL at a running Redis 7.";

/** Returns whether `redis-server` can be run from PATH. */
export function hasRedisServer(): boolean {
  const result = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return result.error === undefined && result.status === 0;
}

/** Finds a free TCP port on 127.0.0.1 by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

/**
 * Starts `redis-server` on a free loopback port with persistence off, and waits until it
 * replies to PING. Throws with `REDIS_INSTALL_HINT` when there is no `redis-server`.
 */
export async function startPrivateRedis(options: { port?: number } = {}): Promise<PrivateRedis> {
  if (!hasRedisServer()) throw new Error(REDIS_INSTALL_HINT);

  const port = options.port ?? (await freePort());
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  // The server must not outlive this process, even when it exits on an error.
  const killOnExit = (): void => void child.kill("SIGTERM");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  await waitForPing(url, child);

  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await once(child, "exit");
  };
  return { url, process: child, close };
}

async function waitForPing(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      client.disconnect();
    }
  }
  child.kill("SIGKILL");
  throw new Error(
    `redis-server on ${url} did not reply to PING within 10 s; check that the port is free`,
  );
}
