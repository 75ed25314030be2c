// Piscina worker entry: register the TypeScript loader in this worker thread, then serve
// tasks with experiments/task.ts (TypeScript, no build step).
import '../bin/ts-register.mjs';
const { runTask, barrierTask } = await import('./task.ts');
export default (payload) => (payload.kind === 'barrier' ? barrierTask(payload) : runTask(payload));
