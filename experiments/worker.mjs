// Piscina worker entry: register the tsx loader in this worker thread, then serve
// tasks with experiments/task.ts (TypeScript, no build step).
import { register } from 'tsx/esm/api';
register();
const { runTask, barrierTask } = await import('./task.ts');
export default (payload) => (payload.kind === 'barrier' ? barrierTask(payload) : runTask(payload));
