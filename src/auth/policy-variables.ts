// Policy variables, as IAM reads them in a policy of Version 2012-10-17: in a Resource or in the
// value of a string or ARN condition, `${key}` stands for the request's value of that key,
// `${key, 'default'}` for a default when the request has none ('' inside it is a quote), and
// `${*}`, `${?}`, `${$}` for those characters taken literally. One round of substitution only.

/** Why a value's variables are refused; the policy parser turns it into MalformedPolicy. */
export class VariableError extends Error {}

/** A value with its request's variables filled in; `literal[i]` marks a `*` or `?` that is not a wildcard. */
export interface BoundPattern {
  text: string;
  literal: Uint8Array;
}

type Part = { text: string } | { char: string } | { key: string; fallback?: string };

/** `${ key }` or `${ key , 'default' }`; the key's case does not matter, the default's does. */
const VARIABLE = /^\s*([^\s,'{}]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?$/;

export class PolicyTemplate {
  private constructor(
    private readonly parts: readonly Part[],
    /** A key skep does not evaluate, in a policy stored before such keys were refused. */
    readonly unevaluated: boolean,
  ) {}

  /**
   * The template of `text`, or undefined when it names no variable. A key outside `known`, or a
   * variable badly written, is a VariableError, unless `stored` (the policy was accepted by an
   * earlier version): the template is then kept as unevaluated, and its statement fails closed.
   */
  static parse(text: string, known: ReadonlySet<string>, stored: boolean): PolicyTemplate | undefined {
    if (!text.includes('${')) return undefined;
    const parts: Part[] = [];
    let unevaluated = false;
    const refuse = (variable: string) => {
      if (!stored) throw new VariableError(`Policy has an invalid variable: ${variable}`);
      unevaluated = true;
    };
    let at = 0;
    for (let open = text.indexOf('${'); open >= 0; open = text.indexOf('${', at)) {
      if (open > at) parts.push({ text: text.slice(at, open) });
      const close = closingBrace(text, open + 2);
      if (close < 0) {
        refuse(text.slice(open));
        break;
      }
      const inner = text.slice(open + 2, close);
      const trimmed = inner.trim();
      if (trimmed === '*' || trimmed === '?' || trimmed === '$') {
        parts.push({ char: trimmed });
      } else {
        const m = VARIABLE.exec(inner);
        if (!m || !known.has(m[1].toLowerCase())) refuse(`\${${inner}}`);
        else parts.push({ key: m[1].toLowerCase(), ...(m[2] !== undefined && { fallback: m[2].replace(/''/g, "'") }) });
      }
      at = close + 1;
    }
    if (at < text.length && !unevaluated) parts.push({ text: text.slice(at) });
    return new PolicyTemplate(parts, unevaluated);
  }

  /**
   * The value for this request; null when a variable has neither a value nor a default, which
   * makes its statement invalid, as IAM treats a variable it cannot resolve. What a variable puts
   * in is literal: a key's value holding `*` widens nothing.
   */
  bind(facts: Readonly<Record<string, string | undefined>>): BoundPattern | null {
    const pieces: string[] = [];
    const literalSpans: [number, number][] = [];
    let length = 0;
    for (const part of this.parts) {
      let piece: string;
      if ('text' in part) piece = part.text;
      else {
        piece = 'char' in part ? part.char : (facts[part.key] ?? part.fallback) as string;
        if (piece === undefined) return null;
        literalSpans.push([length, length + piece.length]);
      }
      pieces.push(piece);
      length += piece.length;
    }
    const literal = new Uint8Array(length);
    for (const [from, to] of literalSpans) literal.fill(1, from, to);
    return { text: pieces.join(''), literal };
  }
}

/** The `}` that closes a variable opened before `from`, skipping a quoted default; -1 if none. */
function closingBrace(text: string, from: number): number {
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "'") quoted = !quoted;
    else if (text[i] === '}' && !quoted) return i;
  }
  return -1;
}
