import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";

/** Redis address when `REDIS_URL` is unset. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * Opens a Redis connection for BullMQ. BullMQ requires `maxRetriesPerRequest: null` on
 * connections used by workers, so that blocking commands wait for Redis to come back
 * instead of failing.
 */
export function createRedisConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(200 * attempt, 5000),
    ...options,
  });
}

/**
 * Logs a Redis outage once at warn and its end at info. ioredis emits an error for every
 * failed reconnect, which would otherwise fill the log while Redis is down.
 */
export function reportRedisOutages(connection: Redis, logger: Logger): void {
  let reported = false;
  connection.on("error", (error: Error) => {
    if (reported) return;
    reported = true;
    logger.warn({ err: error }, "Redis connection failed; ioredis keeps reconnecting");
  });
  connection.on("ready", () => {
    if (!reported) return;
    reported = false;
    logger.info("Redis connection restored");
  });
}
