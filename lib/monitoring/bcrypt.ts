/**
 * bcrypt ($2b$), as Prometheus's `--web.config.file` wants basic-auth passwords hashed. Node has no bcrypt and
 * no package for it is installed, so this is the OpenBSD algorithm (eksblowfish) in a few lines. Blowfish's
 * initial state is the hex digits of pi, computed here (Machin's formula in BigInt) rather than pasted.
 */

const WORDS = 18 + 4 * 256;
let initialState: Uint32Array | undefined;

/** The first 1042 32-bit words of pi's fractional part (P-array then S-boxes). */
function piWords(): Uint32Array {
  if (initialState) return initialState;
  const bits = BigInt(WORDS * 32 + 64);
  const one = 1n << bits;
  const atanInv = (x: bigint): bigint => {
    let term = one / x;
    let sum = term;
    const x2 = x * x;
    for (let k = 1n; term !== 0n; k++) {
      term /= x2;
      sum += (k % 2n === 1n ? -term : term) / (2n * k + 1n);
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const frac = (pi - 3n * one) >> 64n;
  const out = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) out[i] = Number((frac >> BigInt((WORDS - 1 - i) * 32)) & 0xffffffffn);
  initialState = out;
  return out;
}

/** The 18 words a key contributes to the P-array (the key read cyclically, big-endian). */
function keyWords(key: Uint8Array): Int32Array {
  const out = new Int32Array(18);
  let k = 0;
  for (let i = 0; i < 18; i++) {
    let w = 0;
    for (let j = 0; j < 4; j++) { w = (w << 8) | key[k]; k = (k + 1) % key.length; }
    out[i] = w;
  }
  return out;
}

class Blowfish {
  readonly p: Int32Array;
  readonly s: Int32Array;
  private readonly lr = new Int32Array(2);
  constructor() {
    const init = piWords();
    this.p = new Int32Array(init.buffer.slice(0, 18 * 4));
    this.s = new Int32Array(init.buffer.slice(18 * 4));
  }

  /** Encrypts the block at lr[at], lr[at + 1] in place. Hot: bcrypt runs it some 34,000 times per hash at cost 5. */
  encrypt(lr: Int32Array, at = 0): void {
    const p = this.p, s = this.s;
    let l = lr[at] ^ p[0];
    let r = lr[at + 1];
    for (let i = 1; i < 17; i += 2) {
      r ^= ((((s[l >>> 24] + s[256 | ((l >>> 16) & 0xff)]) ^ s[512 | ((l >>> 8) & 0xff)]) + s[768 | (l & 0xff)]) ^ p[i]);
      l ^= ((((s[r >>> 24] + s[256 | ((r >>> 16) & 0xff)]) ^ s[512 | ((r >>> 8) & 0xff)]) + s[768 | (r & 0xff)]) ^ p[i + 1]);
    }
    lr[at] = r ^ p[17];
    lr[at + 1] = l;
  }

  /** ExpandKey(state, salt, key) with the key's P-array words; `salt` (4 words) undefined is the cost loop's zero salt. */
  expand(key: Int32Array, salt?: Int32Array): void {
    const p = this.p, s = this.s, lr = this.lr;
    for (let i = 0; i < 18; i++) p[i] ^= key[i];
    lr[0] = 0;
    lr[1] = 0;
    let j = 0;
    const fill = (arr: Int32Array) => {
      for (let i = 0; i < arr.length; i += 2) {
        if (salt) { lr[0] ^= salt[j]; lr[1] ^= salt[j + 1]; j ^= 2; }
        this.encrypt(lr);
        arr[i] = lr[0];
        arr[i + 1] = lr[1];
      }
    };
    fill(p);
    fill(s);
  }
}

const ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function encode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i], b1 = bytes[i + 1] ?? 0, b2 = bytes[i + 2] ?? 0;
    out += ALPHABET[b0 >> 2] + ALPHABET[((b0 & 3) << 4) | (b1 >> 4)];
    if (i + 1 < bytes.length) out += ALPHABET[((b1 & 15) << 2) | (b2 >> 6)];
    if (i + 2 < bytes.length) out += ALPHABET[b2 & 63];
  }
  return out;
}

/**
 * `$2b$<cost>$<salt><hash>` of `password` with the given 16-byte salt. Passwords over 72 bytes are refused
 * rather than silently cut, as bcrypt would.
 */
export function bcryptHash(password: string, salt: Uint8Array, cost: number): string {
  if (salt.length !== 16) throw new Error("bcrypt needs a 16-byte salt");
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) throw new Error(`bcrypt cost must be 4..31, got ${cost}`);
  const key = Buffer.concat([Buffer.from(password, "utf8"), Buffer.from([0])]);
  if (key.length > 72) throw new Error("bcrypt takes at most 71 bytes of password");
  const bf = new Blowfish();
  const keyP = keyWords(key);
  const saltP = keyWords(salt);
  bf.expand(keyP, saltP.subarray(0, 4));
  for (let i = 0; i < 2 ** cost; i++) {
    bf.expand(keyP);
    bf.expand(saltP);
  }
  const text = Buffer.from("OrpheanBeholderScryDoubt", "latin1");
  const words = new Int32Array(6);
  for (let i = 0; i < 6; i++) words[i] = text.readInt32BE(i * 4);
  for (let n = 0; n < 64; n++) for (let b = 0; b < 6; b += 2) bf.encrypt(words, b);
  const out = Buffer.alloc(24);
  words.forEach((w, i) => out.writeInt32BE(w, i * 4));
  return `$2b$${String(cost).padStart(2, "0")}$${encode(salt)}${encode(out.subarray(0, 23))}`;
}
