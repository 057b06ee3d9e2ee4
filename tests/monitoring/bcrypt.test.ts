/** The fleet monitor's bcrypt against the system's crypt(3) (libxcrypt, through Python), for random inputs. */
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import { bcryptHash } from "../../lib/monitoring/bcrypt";

function systemCrypt(password: string, setting: string): string {
  return execFileSync("python3", ["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.stdin.read(), sys.argv[1]))", setting], { input: password, encoding: "utf8" }).trim();
}

test.each([
  ["a random base64url password", randomBytes(32).toString("base64url"), 5],
  ["a short password", "x", 4],
  ["non-ASCII text", "pässwörd-ŧest-🔑", 6],
  ["71 bytes, bcrypt's limit", "p".repeat(71), 4],
])("%s hashes as crypt(3) hashes it", (_what, password, cost) => {
  const hash = bcryptHash(password, randomBytes(16), cost);
  expect(hash).toMatch(new RegExp(`^\\$2b\\$0${cost}\\$[./A-Za-z0-9]{53}$`));
  expect(systemCrypt(password, hash)).toBe(hash);
  const wrong = `q${password.slice(1)}`;
  expect(systemCrypt(wrong === password ? "other" : wrong, hash)).not.toBe(hash);
});

test("refuses what bcrypt would silently cut or cannot take", () => {
  expect(() => bcryptHash("p".repeat(72), randomBytes(16), 4)).toThrow(/at most 71 bytes/);
  expect(() => bcryptHash("p", randomBytes(8), 4)).toThrow(/16-byte salt/);
  expect(() => bcryptHash("p", randomBytes(16), 3)).toThrow(/cost/);
});
