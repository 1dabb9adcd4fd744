// A training process stand-in for the kill -9 test: logs metrics through a MetricWriter and
// reports on stdout each step whose rows have been flushed to the database.
import { MetricWriter, RunStore } from '../../../src/main/store/run-store';

const store = new RunStore(process.argv[2]);
const runId = store.createRun({ name: 'doomed', family: 'lstm', paramCount: 10, config: { lr: 1 } });
store.setStatus(runId, 'running');
const writer = new MetricWriter(store, runId, 20);
let step = 0;
setInterval(() => {
  step++;
  writer.push({ step, wallMs: step, activeMs: step, tokens: step * 10, name: 'train_loss', value: 1 / step });
  if (step % 5 === 0) {
    writer.flush();
    console.log(`flushed ${step}`);
  }
}, 2);
