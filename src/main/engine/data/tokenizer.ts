// Character tokenizer: the vocabulary is the sorted set of characters (code points) of the corpus,
// as nanoGPT's shakespeare_char and char-rnn build it. Serialisable, so every checkpoint carries it.

export interface CharTokenizerJson {
  kind: 'char';
  vocab: string[];
}

export class CharTokenizer {
  private readonly index: Map<string, number>;

  constructor(readonly vocab: readonly string[]) {
    this.index = new Map(vocab.map((ch, i) => [ch, i]));
    if (this.index.size !== vocab.length) throw new Error('char tokenizer: the vocabulary has a repeated character');
  }

  static fromText(text: string): CharTokenizer {
    const chars = [...new Set(text)]; // iterates code points, so a surrogate pair is one character
    chars.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(chars);
  }

  static fromJSON(json: CharTokenizerJson): CharTokenizer {
    if (json.kind !== 'char' || !Array.isArray(json.vocab)) throw new Error('not a char tokenizer');
    return new CharTokenizer(json.vocab);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Throws naming every character that is not in the vocabulary. */
  encode(text: string): Int32Array {
    const chars = [...text];
    const ids = new Int32Array(chars.length);
    const unknown = new Set<string>();
    chars.forEach((ch, i) => {
      const id = this.index.get(ch);
      if (id === undefined) unknown.add(ch);
      else ids[i] = id;
    });
    if (unknown.size > 0) {
      const list = [...unknown].map((c) => JSON.stringify(c)).join(', ');
      throw new Error(`text has characters the vocabulary does not: ${list}; use only characters of the training text`);
    }
    return ids;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const ch = this.vocab[ids[i]];
      if (ch === undefined) throw new Error(`token id ${ids[i]} is outside the vocabulary (size ${this.vocab.length})`);
      s += ch;
    }
    return s;
  }

  toJSON(): CharTokenizerJson {
    return { kind: 'char', vocab: [...this.vocab] };
  }
}
