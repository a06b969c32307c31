import { createCipheriv, createDecipheriv } from "node:crypto";

/** Bytes ChaCha20-Poly1305 adds to every frame: its authentication tag. */
export const TAG_BYTES = 16;
const KEY_BYTES = 32;
const ALGORITHM = "chacha20-poly1305";

/**
 * The 96-bit nonce of frame `counter`: 32 zero bits, then the counter as 64-bit little-endian (as in Noise).
 * The counter never travels: both ends count the frames of a direction, so a frame opens only at its own place
 * in the stream, and a replayed, reordered, dropped or re-injected frame fails to authenticate.
 */
function nonceOf(counter: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(counter >>> 0, 4);
  nonce.writeUInt32LE(Math.floor(counter / 2 ** 32), 8);
  return nonce;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`a frame key has ${KEY_BYTES} bytes, not ${key.length}`);
}

/**
 * Seals the frames of one direction of a link, in order. A counter past 2^53 − 1 would take centuries of frames
 * at a million a second; sealing refuses it rather than reuse a nonce.
 */
export class FrameSealer {
  readonly #key: Uint8Array;
  #counter = 0;

  constructor(key: Uint8Array) {
    checkKey(key);
    this.#key = key;
  }

  /** `plaintext` encrypted and authenticated under the next nonce: `TAG_BYTES` longer. */
  seal(plaintext: Uint8Array): Buffer {
    if (this.#counter === Number.MAX_SAFE_INTEGER) throw new RangeError("frame counter exhausted: the link must be renewed");
    const cipher = createCipheriv(ALGORITHM, this.#key, nonceOf(this.#counter++), { authTagLength: TAG_BYTES });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }
}

/** Opens the frames of one direction of a link, in the order they were sealed. */
export class FrameOpener {
  readonly #key: Uint8Array;
  #counter = 0;

  constructor(key: Uint8Array) {
    checkKey(key);
    this.#key = key;
  }

  /**
   * The plaintext of the next frame, or undefined when `frame` is not the next frame sealed under this key
   * (tampered, replayed, reordered, or sealed under another key). A failed frame does not advance the counter.
   */
  open(frame: Uint8Array): Buffer | undefined {
    if (frame.length < TAG_BYTES) return undefined;
    const decipher = createDecipheriv(ALGORITHM, this.#key, nonceOf(this.#counter), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(frame.subarray(frame.length - TAG_BYTES));
    const body = decipher.update(frame.subarray(0, frame.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    this.#counter++;
    return body;
  }
}
