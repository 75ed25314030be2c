/**
 * The exact sum of the crash points' box sizes (the plan's boxSize), without a BigInt
 * addition per point.
 *
 * Model: boxes below 2^53 (a replayer's boxNumber) are summed in a double while the sum
 * stays an exact integer (at most 2^53 - 1); before it would not, the double is folded
 * into a BigInt and starts again from 0. Larger boxes are added to the BigInt at once.
 *
 * Invariant: total() equals the BigInt sum of every box added.
 */
export class BoxSum {
  private big = 0n;
  private small = 0;

  /** Add a box given as a safe integer (>= 0). */
  addNumber(box: number): void {
    if (this.small > Number.MAX_SAFE_INTEGER - box) {
      this.big += BigInt(this.small);
      this.small = 0;
    }
    this.small += box;
  }

  addBig(box: bigint): void {
    this.big += box;
  }

  total(): bigint {
    return this.big + BigInt(this.small);
  }
}
