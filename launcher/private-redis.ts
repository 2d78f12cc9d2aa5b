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

/**
 * Ports `freePort` picks from: below Linux's default ephemeral range (32768-60999), which
 * the kernel uses for `listen(0)` and outgoing connections. A port handed out by binding
 * port 0 could be handed out again to another process before the caller binds it, and
 * tests that ran at the same time failed with EADDRINUSE.
 */
const FREE_PORT_RANGE = { first: 20_000, last: 32_767 } as const;

/** Attempts before `freePort` gives up. */
const FREE_PORT_ATTEMPTS = 50;

/**
 * Finds a free TCP port on 127.0.0.1 for a process to listen on: a random port of
 * `FREE_PORT_RANGE` that can be bound, released again for the caller.
 *
 * @throws Error when no port of the range could be bound in 50 attempts.
 */
export async function freePort(): Promise<number> {
  const span = FREE_PORT_RANGE.last - FREE_PORT_RANGE.first + 1;
  for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS; attempt += 1) {
    const port = FREE_PORT_RANGE.first + Math.floor(Math.random() * span);
    if (await canListen(port)) return port;
  }
  throw new Error(
    `no free port on 127.0.0.1 between ${FREE_PORT_RANGE.first} and ${FREE_PORT_RANGE.last} ` +
      `after ${FREE_PORT_ATTEMPTS} attempts; stop some listeners and retry`,
  );
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
  } catch {
    return false;
  }
  server.close();
  await once(server, "close");
  return true;
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
