// Worker thread entry (pool.ts): register the TypeScript loader in this thread, install the
// watchdog's activity buffer, then serve one task at a time with experiments/task.ts.
// Every outcome goes back as a message ({ ok, out } or { ok: false, error }); nothing
// is printed from here.
import '../bin/ts-register.mjs';
import { parentPort, workerData } from 'node:worker_threads';

const { runAnyTask, serializeError } = await import('./task.ts');
const { installActivity } = await import('./activity.ts');
installActivity(workerData.activity);
const { setTaskId } = await import('./activity.ts');
parentPort.on('message', async ({ id, payload }) => {
  setTaskId(id);
  try {
    parentPort.postMessage({ id, ok: true, out: await runAnyTask(payload) });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, error: serializeError(e) });
  }
});
parentPort.postMessage({ id: -1, ready: true });
