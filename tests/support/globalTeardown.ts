import { stopDockerdIfStarted } from "./dockerd";

export default async function globalTeardown(): Promise<void> {
  await stopDockerdIfStarted();
}
