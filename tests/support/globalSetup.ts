import { registerUser, startDockerd } from "./dockerd";

/** Host-side tests need a real Docker engine; start one once for the whole run when none answers. */
export default async function globalSetup(): Promise<void> {
  if (process.env.EPHEMERY_TEST_NO_DOCKER === "1") return;
  registerUser();
  await startDockerd();
}
