// Seeded randomness for the fuzz tests: the same seed gives the same case on every machine.

/** mulberry32: a small, fast PRNG in [0, 1), deterministic per seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `b` cut as a pipe might cut it: 30 % single bytes, else 1 to `maxChunk()` bytes. */
export function chunksOf(r: () => number, b: Buffer, maxChunk: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = r() < 0.3 ? 1 : 1 + Math.floor(r() * maxChunk());
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}
