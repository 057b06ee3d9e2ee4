/**
 * Where each client's key set keeps one key's keystore and password, and the set's own lists. Dependency-free:
 * the host-side re-deposit program (lib/keys/redeposit.ts) reads keys through it, as layout.ts writes them.
 */
import type { ValidatorClientModule } from "../clients/types";

type ValidatorClientName = ValidatorClientModule["name"];
const ox = (pk: string) => `0x${pk}`;

/** Where one key's keystore and password file sit in each client's set (relative to the set's root). */
export const KEY_FILES: Record<ValidatorClientName, (pubkey: string) => { keystore: string; password: string }> = {
  lighthouse: (pk) => ({ keystore: `lighthouse/keystores/${ox(pk)}.json`, password: `lighthouse/secrets/${ox(pk)}` }),
  // Teku pairs keystores/<name>.json with secrets/<name>.txt.
  teku: (pk) => ({ keystore: `keystores/${ox(pk)}.json`, password: `secrets/${ox(pk)}.txt` }),
  nimbus: (pk) => ({ keystore: `nimbus/validators/${ox(pk)}/keystore.json`, password: `nimbus/secrets/${ox(pk)}` }),
  lodestar: (pk) => ({ keystore: `lodestar/keystores/${ox(pk)}/voting-keystore.json`, password: `lodestar/secrets/${ox(pk)}` }),
  prysm: (pk) => ({ keystore: `prysm/keystores/keystore-${ox(pk)}.json`, password: `prysm/passwords/${ox(pk)}.txt` }),
};

/** The set's list of pubkeys (one per line) and the client it was laid out for, next to the keys. */
export const SET_PUBKEYS_FILE = "pubkeys.txt";
export const SET_CLIENT_FILE = "client.txt";
