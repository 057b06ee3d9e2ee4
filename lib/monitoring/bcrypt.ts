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

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;
  constructor() {
    const init = piWords();
    this.p = init.slice(0, 18);
    this.s = init.slice(18);
  }

  private f(x: number): number {
    const s = this.s;
    return ((((s[x >>> 24] + s[256 + ((x >>> 16) & 0xff)]) >>> 0) ^ s[512 + ((x >>> 8) & 0xff)]) + s[768 + (x & 0xff)]) >>> 0;
  }

  /** Encrypts the block (l, r) in place in `lr`. */
  encrypt(lr: Uint32Array, at = 0): void {
    let l = lr[at];
    let r = lr[at + 1];
    const p = this.p;
    for (let i = 0; i < 16; i += 2) {
      l = (l ^ p[i]) >>> 0;
      r = (r ^ this.f(l)) >>> 0;
      r = (r ^ p[i + 1]) >>> 0;
      l = (l ^ this.f(r)) >>> 0;
    }
    lr[at] = (r ^ p[17]) >>> 0;
    lr[at + 1] = (l ^ p[16]) >>> 0;
  }

  /** ExpandKey(state, salt, key); `salt` undefined is the all-zero salt of the cost loop. */
  expand(key: Uint8Array, salt?: Uint8Array): void {
    let k = 0;
    const keyWord = () => {
      let w = 0;
      for (let i = 0; i < 4; i++) { w = ((w << 8) | key[k]) >>> 0; k = (k + 1) % key.length; }
      return w;
    };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i] ^ keyWord()) >>> 0;
    let j = 0;
    const saltWord = () => {
      if (!salt) return 0;
      let w = 0;
      for (let i = 0; i < 4; i++) { w = ((w << 8) | salt[j]) >>> 0; j = (j + 1) % salt.length; }
      return w;
    };
    const lr = new Uint32Array(2);
    const fill = (arr: Uint32Array) => {
      for (let i = 0; i < arr.length; i += 2) {
        lr[0] ^= saltWord();
        lr[1] ^= saltWord();
        this.encrypt(lr);
        arr[i] = lr[0];
        arr[i + 1] = lr[1];
      }
    };
    fill(this.p);
    fill(this.s);
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
  bf.expand(key, salt);
  for (let i = 0; i < 2 ** cost; i++) {
    bf.expand(key);
    bf.expand(salt);
  }
  const text = Buffer.from("OrpheanBeholderScryDoubt", "latin1");
  const words = new Uint32Array(6);
  for (let i = 0; i < 6; i++) words[i] = text.readUInt32BE(i * 4);
  for (let n = 0; n < 64; n++) for (let b = 0; b < 6; b += 2) bf.encrypt(words, b);
  const out = Buffer.alloc(24);
  words.forEach((w, i) => out.writeUInt32BE(w, i * 4));
  return `$2b$${String(cost).padStart(2, "0")}$${encode(salt)}${encode(out.subarray(0, 23))}`;
}
