/** The Fractal ID sandbox on 127.0.0.1 with auto-approve, in its own process. */
import { childProcess, fatal } from '../harness/serve';
import { loadSandbox } from '../harness/dist';

async function main(): Promise<void> {
  const sandbox = await loadSandbox().startSandbox({ autoApprove: true });
  const ready = childProcess({}, () => sandbox.close());
  ready(undefined, sandbox.domains);
}

main().catch(fatal);
