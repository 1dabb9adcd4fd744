import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { Axis } from '../../../shared/contract';

// The chart controls, shared by the live-run and compare screens (as TensorBoard keeps one
// smoothing for all its scalars), for the session.
export const useChartSettings = defineStore('chart-settings', () => {
  const smoothing = ref(0.6);
  const axis = ref<Axis>('step');
  const logY = ref(false);
  return { smoothing, axis, logY };
});
