/** Frames from this size on come from the arena; smaller ones cost less as their own allocation than as slack. */
export const ARENA_MIN_FRAME_BYTES = 1024
/** Frames larger than this get an `ArrayBuffer` of their own rather than a piece of a chunk. */
export const ARENA_MAX_FRAME_BYTES = 16 * 1024
/** Largest chunk, in bytes. */
const MAX_CHUNK_BYTES = 64 * 1024

/**
 * @internal Where one session's long frames (kept as bytes until acknowledged, `server-frames.ts`)
 * get their memory: carved one after the other from chunks, rather than one `ArrayBuffer` each,
 * which cost about 1 µs per 4 KiB frame to allocate and added to the garbage collector's work.
 *
 * A chunk lives until every frame carved from it is released, so it may hold acknowledged frames
 * and an unused tail: the {@link slack}, which the session is charged on top of its frames so that
 * the budget never counts less than what the process holds. Acks release frames in seq order,
 * which bounds the slack to the oldest chunk's acknowledged part and the newest chunk's tail.
 * Chunks grow with what the session has in flight (twice its unacknowledged carved bytes, up to
 * 64 KiB), so a session that sends a long message now and then is charged little slack, and an
 * arena with nothing in flight lets all its chunks go.
 */
export class FrameArena {
  #chunk: Buffer | undefined = undefined
  #offset = 0
  // Chunks still counted (the current one last), with the seq of the last frame carved from each.
  #chunks: Buffer[] = []
  #chunkLastSeq: number[] = []
  #heldBytes = 0
  // Carved frames not yet released, oldest first, from #head on.
  #seqs: number[] = []
  #sizes: number[] = []
  #head = 0
  #liveBytes = 0

  /** Bytes the chunks hold beyond the frames not yet released. */
  get slack (): number {
    return this.#heldBytes - this.#liveBytes
  }

  /**
   * The slack once a frame of `size` bytes is carved: what {@link carve} would add to the
   * session's charge beyond the frame itself.
   */
  slackWith (size: number): number {
    if (this.#chunk !== undefined && this.#offset + size <= this.#chunk.length) return this.slack - size
    return this.slack + this.#newChunkBytes(size) - size
  }

  /** `size` bytes for the frame numbered `seq` (seqs increase); `size` is at most {@link ARENA_MAX_FRAME_BYTES}. */
  carve (seq: number, size: number): Buffer {
    let chunk = this.#chunk
    if (chunk === undefined || this.#offset + size > chunk.length) {
      chunk = Buffer.allocUnsafeSlow(this.#newChunkBytes(size))
      this.#chunk = chunk
      this.#offset = 0
      this.#chunks.push(chunk)
      this.#chunkLastSeq.push(seq)
      this.#heldBytes += chunk.length
    }
    const bytes = chunk.subarray(this.#offset, this.#offset + size)
    this.#offset += size
    this.#chunkLastSeq[this.#chunkLastSeq.length - 1] = seq
    this.#seqs.push(seq)
    this.#sizes.push(size)
    this.#liveBytes += size
    return bytes
  }

  /** The client acknowledged every frame up to `seq`: stop counting what only those frames kept. */
  release (seq: number): void {
    let head = this.#head
    const seqs = this.#seqs
    while (head < seqs.length && seqs[head] <= seq) this.#liveBytes -= this.#sizes[head++]
    if (head === seqs.length) {
      // Nothing carved is in flight: let every chunk go, the current one too.
      this.#seqs = []
      this.#sizes = []
      this.#head = 0
      this.#chunks = []
      this.#chunkLastSeq = []
      this.#chunk = undefined
      this.#heldBytes = 0
      return
    }
    if (head > 1024 && head * 2 > seqs.length) {
      this.#seqs = seqs.slice(head)
      this.#sizes = this.#sizes.slice(head)
      head = 0
    }
    this.#head = head
    let dropped = 0
    while (dropped < this.#chunks.length - 1 && this.#chunkLastSeq[dropped] <= seq) this.#heldBytes -= this.#chunks[dropped++].length
    if (dropped > 0) {
      this.#chunks.splice(0, dropped)
      this.#chunkLastSeq.splice(0, dropped)
    }
  }

  #newChunkBytes (size: number): number {
    return Math.max(size, Math.min(MAX_CHUNK_BYTES, 2 * (this.#liveBytes + size)))
  }
}
