import type { Backend } from '../backend/backend';
import type { Rng } from '../rng';
import { shapeSize, type Tensor } from '../tensor';

// Every trainable tensor of a model under its PyTorch state_dict name, in creation order (which
// is also the order the initialiser draws random numbers in, so a seed fixes every weight).

export type Init = { kind: 'zeros' } | { kind: 'ones' } | { kind: 'normal'; std: number } | { kind: 'uniform'; bound: number };

export class ParameterStore {
  private readonly tensors = new Map<string, Tensor>();

  constructor(
    readonly backend: Backend,
    private readonly rng: Rng,
  ) {}

  /** Creates a parameter with a persistent gradient buffer, initialised host-side from the rng. */
  create(name: string, shape: readonly number[], init: Init): Tensor {
    if (this.tensors.has(name)) throw new Error(`parameter ${name} is defined twice`);
    const n = shapeSize(shape);
    const values = new Float64Array(n);
    switch (init.kind) {
      case 'zeros':
        break;
      case 'ones':
        values.fill(1);
        break;
      case 'normal':
        for (let i = 0; i < n; i++) values[i] = this.rng.normal() * init.std;
        break;
      case 'uniform':
        for (let i = 0; i < n; i++) values[i] = this.rng.uniform(-init.bound, init.bound);
        break;
    }
    const t = this.backend.fromArray(shape, values, true);
    t.requiresGrad = true;
    t.grad = this.backend.allocPersistent(shape);
    this.tensors.set(name, t);
    return t;
  }

  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no parameter named ${name}; this model has: ${[...this.tensors.keys()].join(', ')}`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  entries(): [string, Tensor][] {
    return [...this.tensors.entries()];
  }

  /** Number of trainable scalars (a tied weight counts once). */
  count(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.size;
    return n;
  }

  zeroGrad(): void {
    for (const t of this.tensors.values()) this.backend.fill(t.grad!, 0);
  }

  /** Sets parameters from host arrays by name; every parameter must be given, with its exact size. */
  load(values: Record<string, ArrayLike<number>>): void {
    const missing = this.names().filter((n) => !(n in values));
    if (missing.length > 0) throw new Error(`missing parameters: ${missing.join(', ')}`);
    for (const [name, t] of this.tensors) {
      const v = values[name];
      if (v.length !== t.size) {
        throw new Error(`parameter ${name} has ${v.length} values; the model needs shape [${t.shape.join(', ')}] (${t.size})`);
      }
      this.backend.write(t, v);
    }
  }

  /** Host copies of every parameter, by name. */
  read(): Record<string, Float32Array | Float64Array> {
    const out: Record<string, Float32Array | Float64Array> = {};
    for (const [name, t] of this.tensors) out[name] = this.backend.read(t);
    return out;
  }

  /** Host copies of every gradient, by name. */
  readGrads(): Record<string, Float32Array | Float64Array> {
    const out: Record<string, Float32Array | Float64Array> = {};
    for (const [name, t] of this.tensors) out[name] = this.backend.read(t.grad!);
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) {
      this.backend.dispose(t.grad!);
      this.backend.dispose(t);
    }
    this.tensors.clear();
  }
}
