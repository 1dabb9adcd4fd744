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
// The encoder–decoder (engine only for now: not in the settings catalogue's FAMILIES, so the
// New-run form and `train` do not offer it until training on pairs lands).
export {
  Seq2Seq,
  SEQ2SEQ_DEFAULTS,
  countSeq2SeqParameters,
  greedyDecode,
  resolveSeq2SeqConfig,
  sourcePaddingMask,
  targetMask,
  validateSeq2SeqConfig,
  type GreedyResult,
  type Seq2SeqAttention,
  type Seq2SeqBatch,
  type Seq2SeqConfig,
  type Seq2SeqForward,
} from './seq2seq';
export {
  beamSearch,
  beamSearchBatch,
  decodeBatch,
  greedyDecodeBatched,
  greedyDecodeCached,
  lengthPenaltyFactor,
  sampleDecode,
  Seq2SeqStepDecoder,
  stripPadding,
  type BatchDecodeOptions,
  type BeamHypothesis,
  type BeamSearchOptions,
  type DecodedToken,
  type DecodeOptions,
  type Seq2SeqDecoded,
  type Seq2SeqSampleOptions,
} from './seq2seq-decode';

/** Builds and initialises a model from its config (validated first). */
export function createModel(config: ModelConfig, backend: Backend, rng: Rng): LanguageModel {
  validateModelConfig(config);
  return isRecurrent(config) ? new RecurrentLM(config, backend, rng) : new GPT(config, backend, rng);
}
