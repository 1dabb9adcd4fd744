import { parentPort } from 'node:worker_threads';
import { runGemmHelper, type GemmHelperInit } from '../../engine/backend/cpu/wasm/gemm-pool';

// A matrix-multiply helper thread: it shares the wasm heap of the thread that started it and
// computes the blocks of C it is handed (see engine/backend/cpu/wasm/gemm-pool.ts).

if (!parentPort) throw new Error('jobs/gemm-helper.ts runs as a worker thread (see jobs/gemm-threads.ts)');
parentPort.once('message', (init: GemmHelperInit) => runGemmHelper(init));
