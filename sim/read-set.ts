/**
 * Line-level read sets of a memory region (sharing recovery work between crash states).
 *
 * Model: a `ReadTracker` is attached to one PagedMemory (its `track` field). Every read
 * of bytes the memory's owner has not itself written since the tracker was reset adds
 * the 64-byte line holding them to `lines` (a set that several trackers may share):
 * those lines are exactly the ones whose content in the base image can influence what
 * the reader sees. Writes are recorded per byte (an 8-bit mask per 8-byte word), so a
 * line the reader wrote completely before reading it is not counted, while a partial
 * write leaves the other bytes' image content observable and counted.
 *
 * Soundness: a deterministic computation over two images that agree on every line of
 * its read set performs the same accesses and sees the same values (induction over its
 * reads), so it gives the same result. Page-granular views handed out for direct reads
 * (`pageRead`) count every line of the page. Over-approximation is always sound.
 *
 * Invariants: offsets are region-relative; `reset` forgets the write masks (touched
 * words only) and clears nothing in `lines` (the caller owns that set); `restart`
 * starts a new set and keeps the write masks (a phase's own read set).
 */
export class ReadTracker {
  /** Per 8-byte word of the region: bit i set = byte i written by the owner since reset. */
  private readonly written: Uint8Array;
  private readonly writtenWords: number[] = [];
  /**
   * Per line of the region: the epoch in which this tracker last added it to `lines`
   * (a host-side filter: a line already added is not added again; `lines` only grows
   * until reset, and reset starts a new epoch).
   */
  private readonly addedEpoch: Uint32Array;
  private epoch = 1;

  constructor(
    regionSizeBytes: number,
    private target: Set<number>,
  ) {
    this.written = new Uint8Array(Math.ceil(regionSizeBytes / 8));
    this.addedEpoch = new Uint32Array(Math.ceil(regionSizeBytes / 64));
  }

  reset(lines: Set<number>): void {
    const w = this.written;
    for (const i of this.writtenWords) w[i] = 0;
    this.writtenWords.length = 0;
    this.target = lines;
    if (++this.epoch === 0xffff_ffff) {
      this.addedEpoch.fill(0);
      this.epoch = 1;
    }
  }

  /**
   * Start a new read set (a phase of the reader's work) without forgetting what the
   * owner wrote: lines read from now on are added to `lines` even when an earlier set
   * holds them, except the lines `counted` (the caller adds them to the read set
   * itself). The caller drops any fast-path hint that relied on the old count.
   */
  restart(lines: Set<number>, counted: readonly number[] = []): void {
    this.target = lines;
    if (++this.epoch === 0xffff_ffff) {
      this.addedEpoch.fill(0);
      this.epoch = 1;
    }
    // Lines the caller accounts for otherwise (in every read set of this kind): counted
    // already, so not added again.
    for (let i = 0; i < counted.length; i++) this.addedEpoch[counted[i]] = this.epoch;
  }

  /**
   * The write masks as they are now, to come back to (a machine rolled back to a
   * checkpoint: experiments/crash/checkpoint.ts): `restore()` forgets every write
   * recorded after this call. Costs the words written before it (copied) and since.
   */
  writeCheckpoint(): () => void {
    const words = this.writtenWords.slice();
    const masks = words.map((w) => this.written[w]);
    return () => {
      const w = this.written;
      for (const i of this.writtenWords) w[i] = 0;
      this.writtenWords.length = 0;
      for (let k = 0; k < words.length; k++) {
        w[words[k]] = masks[k];
        this.writtenWords.push(words[k]);
      }
    };
  }

  /** Bytes of the 8-byte word at word index w written by the owner since reset (bit i = byte i). */
  writtenMask(w: number): number {
    return this.written[w];
  }

  /** Whether this tracker has added line l to `lines` since its last reset. */
  has(l: number): boolean {
    return this.addedEpoch[l] === this.epoch;
  }

  private add(l: number): void {
    if (this.addedEpoch[l] === this.epoch) return;
    this.addedEpoch[l] = this.epoch;
    this.target.add(l);
  }

  /** The set the lines are added to (replaced only by reset). */
  get lines(): ReadonlySet<number> {
    return this.target;
  }

  /** A read of sizeBytes (1..8) bytes at off, within one 8-byte word or not. */
  read(off: number, sizeBytes: number): void {
    if (sizeBytes === 8 && (off & 7) === 0) {
      // An aligned word (the machine's common load): counted unless all 8 bytes were written.
      if (this.written[off >>> 3] !== 0xff) this.add(off >>> 6);
      return;
    }
    const end = off + sizeBytes;
    for (let o = off; o < end; ) {
      const w = o >>> 3;
      const wordEnd = Math.min(end, (w + 1) * 8);
      const m = ((1 << (wordEnd - o)) - 1) << (o & 7);
      if ((this.written[w] & m) !== m) this.add(o >>> 6);
      o = wordEnd;
    }
  }

  write(off: number, sizeBytes: number): void {
    const end = off + sizeBytes;
    for (let o = off; o < end; ) {
      const w = o >>> 3;
      const wordEnd = Math.min(end, (w + 1) * 8);
      const m = ((1 << (wordEnd - o)) - 1) << (o & 7);
      if (this.written[w] === 0) this.writtenWords.push(w);
      this.written[w] |= m;
      o = wordEnd;
    }
  }

  /** A whole page handed out for reading: every line of it counts. */
  pageRead(off: number): void {
    const first = (off >>> 12) << 6;
    for (let l = first; l < first + 64; l++) this.add(l);
  }
}
