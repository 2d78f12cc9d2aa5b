/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so failures can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `bytes` into chunks of `size` bytes; the last chunk may be shorter. */
export function fixedChunks(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** Splits `bytes` into chunks of 1 to `maxSize` bytes chosen by `seed`. */
export function randomChunks(bytes: Buffer, seed: number, maxSize = 17): Buffer[] {
  const random = seededRandom(seed);
  const chunks: Buffer[] = [];
  let i = 0;
  while (i < bytes.length) {
    const size = 1 + Math.floor(random() * maxSize);
    chunks.push(bytes.subarray(i, i + size));
    i += size;
  }
  return chunks;
}

/** Copies each chunk, so a test proves that the reader does not rely on shared memory. */
export function copied(chunks: Buffer[]): Buffer[] {
  return chunks.map((chunk) => Buffer.from(chunk));
}
