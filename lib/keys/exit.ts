/**
 * Voluntary exits: signed by the validator client through the keymanager API
 * (POST /eth/v1/validator/{pubkey}/voluntary_exit), published to a beacon node
 * (POST /eth/v1/beacon/pool/voluntary_exits), then followed in the beacon API. Answers are checked as data.
 */
import { HttpError, httpJson } from "../http";

export interface SignedVoluntaryExit {
  message: { epoch: string; validator_index: string };
  signature: string;
}

const UINT = /^\d{1,20}$/;

export function checkSignedExit(body: unknown, pubkey: string): SignedVoluntaryExit {
  const data = (body as { data?: unknown } | undefined)?.data as SignedVoluntaryExit | undefined;
  const ok = data && typeof data === "object" && UINT.test(String(data.message?.epoch)) && UINT.test(String(data.message?.validator_index))
    && typeof data.signature === "string" && /^0x[0-9a-fA-F]{192}$/.test(data.signature);
  if (!ok) throw new HttpError(`the keymanager's answer for 0x${pubkey} is not a signed voluntary exit (message.epoch, message.validator_index, 96-byte signature)`);
  return { message: { epoch: String(data.message.epoch), validator_index: String(data.message.validator_index) }, signature: data.signature };
}

function apiMessage(body: unknown, text: string): string {
  const m = (body as { message?: unknown } | undefined)?.message;
  return (typeof m === "string" ? m : text).replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
}

export async function signExit(keymanagerUrl: string, token: string, pubkey: string, epoch?: number): Promise<SignedVoluntaryExit> {
  const url = `${keymanagerUrl}/eth/v1/validator/0x${pubkey}/voluntary_exit${epoch !== undefined ? `?epoch=${epoch}` : ""}`;
  const r = await httpJson(url, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  if (r.status === 401 || r.status === 403) throw new HttpError(`the keymanager refused the token (HTTP ${r.status}): check the token file`);
  if (r.status === 404) throw new HttpError(`the validator client does not hold 0x${pubkey} (HTTP 404)`);
  if (r.status !== 200) throw new HttpError(`the keymanager could not sign an exit for 0x${pubkey}: HTTP ${r.status} ${apiMessage(r.body, r.text)}`);
  return checkSignedExit(r.body, pubkey);
}

export async function publishExit(beaconUrl: string, exit: SignedVoluntaryExit): Promise<void> {
  const r = await httpJson(`${beaconUrl}/eth/v1/beacon/pool/voluntary_exits`, { method: "POST", body: exit });
  if (r.status !== 200) throw new HttpError(`the beacon node refused the exit of validator ${exit.message.validator_index}: HTTP ${r.status} ${apiMessage(r.body, r.text)}`);
}

export interface ValidatorState {
  index: string;
  status: string;
  exitEpoch: string;
}

/** The validator as the beacon node's head state has it, or undefined when the chain does not know it. */
export async function validatorState(beaconUrl: string, pubkey: string): Promise<ValidatorState | undefined> {
  const r = await httpJson(`${beaconUrl}/eth/v1/beacon/states/head/validators/0x${pubkey}`);
  if (r.status === 404) return undefined;
  const d = (r.body as { data?: { index?: unknown; status?: unknown; validator?: { exit_epoch?: unknown } } } | undefined)?.data;
  if (r.status !== 200 || !d || !UINT.test(String(d.index)) || typeof d.status !== "string" || !/^[a-z_]{1,40}$/.test(d.status)) {
    throw new HttpError(`the beacon node's answer for validator 0x${pubkey} is not a validator state (HTTP ${r.status})`);
  }
  return { index: String(d.index), status: d.status, exitEpoch: String(d.validator?.exit_epoch ?? "") };
}
