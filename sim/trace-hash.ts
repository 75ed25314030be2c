/**
 * traceHash: a content hash of a persistency trace, for determinism checks.
 *
 * Model: SHA-256 over every event's fields in order (kind, core, site, arg, valueLo,
 * valueHi as 32-bit little-endian words), read through the PersistTrace interface only,
 * so it does not depend on how the recorder stores events. The base image is not hashed.
 *
 * Invariants: equal event sequences give equal hashes; any field change changes the hash
 * (up to SHA-256 collisions).
 */
import { createHash } from 'node:crypto';
import type { PersistTrace } from './api.ts';

const CHUNK_EVENTS = 4096;

export function traceHash(trace: PersistTrace): string {
  const h = createHash('sha256');
  const buf = new Uint32Array(CHUNK_EVENTS * 6);
  for (let start = 0; start < trace.length; start += CHUNK_EVENTS) {
    const end = Math.min(trace.length, start + CHUNK_EVENTS);
    let k = 0;
    for (let i = start; i < end; i++) {
      buf[k++] = trace.kind(i);
      buf[k++] = trace.core(i);
      buf[k++] = trace.site(i);
      buf[k++] = trace.arg(i);
      buf[k++] = trace.valueLo(i);
      buf[k++] = trace.valueHi(i);
    }
    h.update(new Uint8Array(buf.buffer, 0, k * 4));
  }
  h.update(`n=${trace.length}`);
  return h.digest('hex');
}
