/**
 * Python `re` patterns as JavaScript RegExps. PEFT matches target_modules and exclude_modules
 * strings, modules_to_save entries and layers_pattern with Python's `re`, and configs written for
 * PEFT use its syntax. The common Python-only forms are translated (named groups `(?P<n>…)` and
 * `(?P=n)`, leading inline flags `(?i)`, `\A` and `\Z`, `(?#…)` comments, `{,n}`, literal `{` and
 * `]`, escaped punctuation that JavaScript's `u` mode refuses, `\U` and octal escapes); the forms
 * JavaScript has no equivalent for are refused by name (verbose mode, atomic groups, possessive
 * quantifiers, conditionals, scoped flags, `\N{…}`), never run with another meaning.
 */

/** A Python pattern that cannot be translated; the message names the construct and says what to write instead. */
export class PythonRegexError extends Error {
  override name = 'PythonRegexError';
}

const SYNTAX = new Set('^$\\.*+?()[]{}|/');
const isAlnum = (c: string): boolean => /[A-Za-z0-9]/.test(c);
const hexEscape = (code: number): string => `\\u{${code.toString(16)}}`;

/** The translated source and the flags that leading `(?…)` groups ask for. */
function translate(pattern: string): { source: string; flags: string } {
  let i = 0;
  let flags = '';
  // Python's global flags, only at the very start (3.11+ refuses them elsewhere).
  for (let m = /^\(\?([aiLmsux]+)\)/.exec(pattern); m; m = /^\(\?([aiLmsux]+)\)/.exec(pattern.slice(i))) {
    for (const f of m[1]!) {
      if (f === 'x') throw new PythonRegexError('(?x) (verbose mode) has no JavaScript equivalent: remove it and write the pattern without spaces and # comments');
      if (f === 'L') throw new PythonRegexError('(?L) (locale matching) is for byte patterns; Python refuses it here too: remove it');
      if (f === 'i' || f === 'm') flags += flags.includes(f) ? '' : f;
      // s: every pattern runs with it (module paths have no newline); a, u: module paths are ASCII.
    }
    i += m[0].length;
  }
  let out = '';
  let inClass = false;
  let afterQuantifier = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    const wasQuantifier = afterQuantifier;
    afterQuantifier = false;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new PythonRegexError('the pattern ends with a lone "\\"');
      if (!inClass && next === 'A') { out += '^'; i += 2; continue; }
      if (!inClass && next === 'Z') { out += '$'; i += 2; continue; }
      if (next === 'N') throw new PythonRegexError('\\N{…} (a character by its Unicode name) has no JavaScript equivalent: write the character itself or \\uXXXX');
      if (next === 'U') {
        const hex = /^[0-9a-fA-F]{8}/.exec(pattern.slice(i + 2))?.[0];
        if (!hex) throw new PythonRegexError('\\U must be followed by 8 hex digits');
        out += hexEscape(parseInt(hex, 16)); i += 10; continue;
      }
      // Octal escapes (JavaScript's u mode has none), by Python's rule: \0…, three octal digits, or
      // in a class any octal digits; other digits outside a class are back-references.
      const three = /^[0-7]{3}/.exec(pattern.slice(i + 1))?.[0];
      if (next === '0' || (inClass && /[1-7]/.test(next)) || (three !== undefined && parseInt(three, 8) <= 0o377)) {
        const oct = three ?? /^[0-7]{1,3}/.exec(pattern.slice(i + 1))![0];
        out += hexEscape(parseInt(oct, 8)); i += 1 + oct.length; continue;
      }
      if (!isAlnum(next) && !SYNTAX.has(next) && !(inClass && next === '-')) { out += hexEscape(next.codePointAt(0)!); i += 1 + next.length; continue; }
      out += c + next;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[') { out += '\\['; i += 1; continue; }
      out += c;
      i += 1;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i += 1;
      // A ']' right after '[' or '[^' is a literal in Python.
      if (pattern[i] === '^') { out += '^'; i += 1; }
      if (pattern[i] === ']') { out += '\\]'; i += 1; }
      continue;
    }
    if (c === ']') { out += '\\]'; i += 1; continue; }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i);
      const named = /^\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (named) { out += `(?<${named[1]}>`; i += named[0].length; continue; }
      const backref = /^\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
      if (backref) { out += `\\k<${backref[1]}>`; i += backref[0].length; continue; }
      if (rest.startsWith('(?#')) {
        const end = pattern.indexOf(')', i);
        if (end < 0) throw new PythonRegexError('the comment (?#… is not closed with ")"');
        i = end + 1;
        continue;
      }
      if (rest.startsWith('(?>')) throw new PythonRegexError('(?>…) (an atomic group) has no JavaScript equivalent: write a plain group (…)');
      if (rest.startsWith('(?(')) throw new PythonRegexError('(?(…)…) (a conditional) has no JavaScript equivalent: write the alternatives out with |');
      if (/^\(\?[aiLmsux]+\)/.test(rest)) throw new PythonRegexError(`${/^\(\?[aiLmsux]+\)/.exec(rest)![0]} must come first: global flags are allowed only at the start of the pattern (Python refuses them elsewhere too)`);
      const scoped = /^\(\?[aiLmsux]*(-[imsx]+)?:/.exec(rest);
      if (scoped && scoped[0] !== '(?:') throw new PythonRegexError(`${scoped[0]}…) (flags for part of the pattern) is not supported: put the flag at the start, e.g. (?i), or spell out both cases with [Aa]`);
      out += c;
      i += 1;
      continue;
    }
    if (c === '{') {
      const q = /^\{(\d*)(,(\d*))?\}/.exec(pattern.slice(i));
      if (q && (q[1] !== '' || (q[2] !== undefined && q[3] !== ''))) {
        if (wasQuantifier) throw new PythonRegexError(`"${q[0]}" after another quantifier is not supported`);
        out += q[1] === '' ? `{0${q[0].slice(1)}` : q[0];
        i += q[0].length;
        afterQuantifier = true;
        continue;
      }
      // Not a quantifier: Python reads it as a literal brace.
      out += '\\{';
      i += 1;
      continue;
    }
    if (c === '}') { out += '\\}'; i += 1; continue; }
    if (c === '*' || c === '+' || c === '?') {
      if (wasQuantifier && c === '+') throw new PythonRegexError(`a possessive quantifier (…${pattern.slice(Math.max(0, i - 1), i + 1)}) has no JavaScript equivalent: drop the second "+"`);
      if (wasQuantifier && c === '?') { out += c; i += 1; continue; } // lazy: the same in both
      afterQuantifier = true;
    }
    out += c;
    i += 1;
  }
  if (inClass) throw new PythonRegexError('a character class "[" is not closed with "]"');
  return { source: out, flags };
}

const cache = new Map<string, RegExp>();

/**
 * The RegExp for a Python pattern; `fullmatch` anchors it at both ends (re.fullmatch), otherwise at
 * the start only (re.match). Throws PythonRegexError for what cannot be translated or is invalid.
 */
export function pythonRegex(pattern: string, mode: 'fullmatch' | 'match'): RegExp {
  const key = `${mode}\u0000${pattern}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const { source, flags } = translate(pattern);
  let re: RegExp;
  try {
    re = new RegExp(mode === 'fullmatch' ? `^(?:${source})$` : `^(?:${source})`, `su${flags}`);
  } catch (e) {
    // JavaScript's message quotes the translated pattern (/^(?:…)$/su: …); the user knows their own.
    throw new PythonRegexError(`it is not a valid regex (${(e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')})`, { cause: e });
  }
  cache.set(key, re);
  return re;
}

/** Why a Python pattern cannot be used here, or null when it can. */
export function pythonRegexProblem(pattern: string, mode: 'fullmatch' | 'match' = 'fullmatch'): string | null {
  try {
    pythonRegex(pattern, mode);
    return null;
  } catch (e) {
    if (e instanceof PythonRegexError) return e.message;
    throw e;
  }
}
