/**
 * Watches the gRPC length-prefixed message framing of one direction of a stream (1 byte compressed
 * flag + 4 bytes big-endian length + message) without copying or buffering the bytes: the proxy
 * forwards chunks as they come and only needs to know when a message announces a length above the
 * limit (proxy.grpcmaxrxmsgsize / grpcmaxtxmsgsize), to answer RESOURCE_EXHAUSTED before the
 * message is forwarded.
 */
export class FrameMeter {
  readonly #max: number;
  /** Prefix bytes seen of the current message (0..5). */
  #head = 0;
  #len = 0;
  /** Message bytes still to skip. */
  #left = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Feeds one chunk; returns the announced length of the first message over the limit, or -1. */
  push(chunk: Uint8Array): number {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#left > 0) {
        const skip = Math.min(this.#left, n - i);
        this.#left -= skip;
        i += skip;
        continue;
      }
      const b = chunk[i++] as number;
      if (this.#head > 0) this.#len = this.#len * 256 + b; // head 0 is the compressed flag
      if (++this.#head === 5) {
        if (this.#len > this.#max) return this.#len;
        this.#left = this.#len;
        this.#head = 0;
        this.#len = 0;
      }
    }
    return -1;
  }
}
