// vitest globalSetup of the Kubernetes suite: builds (once) or finds the cached control plane binaries before
// any test file starts, so no beforeAll hook has to wait for a build of tens of minutes under its timeout.
import { provision } from './control-plane.ts';

export default async function setup(): Promise<void> {
  const started = performance.now();
  await provision((line) => process.stderr.write(`${line}\n`));
  const seconds = (performance.now() - started) / 1000;
  if (seconds > 2) process.stderr.write(`[k8s] control plane binaries ready after ${seconds.toFixed(0)} s\n`);
}
