import type { Backend } from '../backend/backend';
import type { Rng } from '../rng';
import { isRecurrent, validateModelConfig, type ModelConfig } from './config';
import type { LanguageModel } from './model';
import { RecurrentLM } from './recurrent';
import { GPT } from './transformer';

export * from './config';
export type { ForwardResult, LanguageModel } from './model';
export { RecurrentLM, type RecurrentState } from './recurrent';
export { GPT } from './transformer';

/** Builds and initialises a model from its config (validated first). */
export function createModel(config: ModelConfig, backend: Backend, rng: Rng): LanguageModel {
  validateModelConfig(config);
  return isRecurrent(config) ? new RecurrentLM(config, backend, rng) : new GPT(config, backend, rng);
}
