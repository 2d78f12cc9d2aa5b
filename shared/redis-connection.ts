import { Redis, type RedisOptions } from "ioredis";

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
