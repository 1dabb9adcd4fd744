import { describe, expect, it } from 'vitest'
import {
  checkSamplingForm, DEFAULT_SAMPLING_FORM, formatProb, lossScaleMax, meanLoss, newRequestId, surpriseInput,
  surpriseSegments, tokenName, visibleText, type SurprisePoint
} from '../../src/renderer/src/lib/sampling-view'

const point = (char: string, loss: number): SurprisePoint => ({ char, loss, top: [] })

describe('tokens as a reader sees them', () => {
  it('makes whitespace visible', () => {
    expect(visibleText('a b\n\tc')).toBe('a␣b⏎⇥c')
    expect(visibleText('')).toBe('∅')
    expect(tokenName(' ')).toBe('space ␣')
    expect(tokenName('\n')).toBe('newline ⏎')
    expect(tokenName('e')).toBe('“e”')
  })

  it('formats probabilities at a useful precision', () => {
    expect(formatProb(0.4213)).toBe('42.1%')
    expect(formatProb(0.0307)).toBe('3.07%')
    expect(formatProb(0.00004)).toBe('<0.01%')
    expect(formatProb(1)).toBe('100%')
    expect(formatProb(0)).toBe('0%')
  })

  it('gives every request its own id', () => {
    expect(newRequestId(5)).not.toBe(newRequestId(5))
    expect(newRequestId().length).toBeLessThanOrEqual(64)
  })
})

describe('the sampling form', () => {
  it('accepts the defaults', () => {
    const r = checkSamplingForm(DEFAULT_SAMPLING_FORM)
    expect(r).toEqual({ ok: true, values: { length: 300, temperature: 0.8, topK: 0, topP: 1, seed: 1337 } })
  })

  it('names every wrong field with its value', () => {
    const r = checkSamplingForm({ length: '6000', temperature: 'hot', topK: '2.5', topP: '0', seed: '-1' })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors.length).toBe('length must be between 0 and 5000 (got 6000)')
    expect(r.errors.temperature).toBe('temperature must be a number (got “hot”)')
    expect(r.errors.topK).toContain('whole number')
    expect(r.errors.topP).toBe('top-p must be above 0 and at most 1 (got 0)')
    expect(r.errors.seed).toContain('between 0 and')
  })
})

describe('surprise', () => {
  it('scores at most 5000 characters of prompt and sample', () => {
    expect(surpriseInput('ab', 'cd')).toEqual({ text: 'abcd', truncated: false })
    const long = surpriseInput('x'.repeat(4000), 'y'.repeat(2000))
    expect(long.text.length).toBe(5000)
    expect(long.truncated).toBe(true)
  })

  it('splits off the unscored first token', () => {
    const points = [point('b', 1), point('c', 2)]
    expect(surpriseSegments('abc', points)).toEqual({ lead: 'a', points })
    // a word model's <unk> does not spell the text: draw what the model saw
    expect(surpriseSegments('a zz', [point(' ', 1), point('<unk>', 3)]).lead).toBe('')
  })

  it('tops the colour scale at a round number above most losses', () => {
    expect(lossScaleMax([])).toBe(1)
    expect(lossScaleMax([0.1, 0.2])).toBe(1)
    expect(lossScaleMax([0.5, 2.2, 3.7])).toBe(4)
    // one outlier among many does not set the scale
    expect(lossScaleMax([...Array(99).fill(1.5), 20])).toBe(2)
  })

  it('averages the loss in nats and bits', () => {
    expect(meanLoss([])).toBeNull()
    const m = meanLoss([point('a', Math.LN2), point('b', Math.LN2)])!
    expect(m.nats).toBeCloseTo(Math.LN2)
    expect(m.bits).toBeCloseTo(1)
  })
})
