/**
 * The demo's "tiny world": a small English-like language about numbers, letters and words, made up
 * here (so the demo model's training data is ours to redistribute), and the fine-tuning task built
 * on it.
 *
 * Pretraining text states facts in several phrasings ("the sum of 12 and 7 is 19.", "12 plus 7 is
 * 19.", "stone backwards is enots.", "the word stone has 5 letters."). The fine-tuning task asks for
 * the same facts in a question/answer format the base model has never seen:
 *
 *   {"prompt": "Q: what is 12 plus 7\nA:", "completion": " 19"}
 *
 * so a short adapter fine-tune has to teach the format, while the knowledge comes from the base
 * model. Before fine-tuning, the base model rambles on in its own sentences (exact match 0); after
 * it, it answers.
 *
 * Everything is a pure function of a seed (the engine's Generator), so the data files and the
 * pretraining stream are reproducible.
 */
import { Generator } from '../src/engine/index.ts';

/** The end-of-text token: ends every pretraining document and every fine-tuning completion. */
export const EOS_TOKEN = '<|endoftext|>';

/**
 * Every character the tiny world uses, in token-id order after EOS (id 0). Uppercase letters and a
 * few punctuation marks are included so users can type ordinary prompts; the corpus uses them too
 * (capitalised sentence starts), so their embeddings are trained.
 */
export const CHARACTERS: readonly string[] = [
  '\n', ' ', '!', '"', "'", '(', ')', '+', ',', '-', '.', '/', ':', ';', '=', '?',
  ...'0123456789', ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
];

/** Short English words (the reversal and letter-count facts are about these and made-up words). */
export const WORDS: readonly string[] = `
cat dog sun moon star tree leaf rock sand sea sky rain snow wind fire ice bird fish frog bear wolf fox deer
owl hen cow pig goat horse mouse duck lion tiger apple pear plum grape lemon bread milk cake soup rice corn
bean egg salt honey cup bowl plate spoon fork knife pan pot door wall roof floor room house home road path
bridge river lake hill field farm town city park shop school book page word letter note song game ball kite
toy box bag hat coat shoe sock ring lamp clock chair table bed desk pen paper card map key lock boat ship
train car bus bike plane wheel horn bell drum flute red blue green gold pink gray black white brown big
small tall short long wide deep warm cold hot cool fast slow soft hard happy sad kind brave calm quick quiet
loud bright dark clean old new young good nice fun wild day night noon dawn dusk week month year spring
summer autumn winter north south east west left right top bottom king queen child friend baby mother father
sister brother teacher farmer baker pilot doctor cook run walk jump swim fly sing read write draw play sleep
eat drink look see hear talk smile laugh think know make build open close give take find keep hold push
pull carry throw catch climb ride rest wait stop start begin end stone cloud storm light shade grass flower
seed root branch garden window candle button basket ladder mirror pocket pillow blanket ticket rocket robot
planet comet island forest desert valley canyon meadow orchard cottage castle tower palace harbor market
`.trim().split(/\s+/);

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

// ---- random helpers ---------------------------------------------------------------------------------------

/** An integer in [0, n). */
function below(g: Generator, n: number): number {
  return g.nextUint32() % n;
}

function pick<T>(g: Generator, items: readonly T[]): T {
  return items[below(g, items.length)]!;
}

/** A made-up word of 3–6 letters, so that reversal and counting are learnt as skills, not only facts. */
function madeUpWord(g: Generator): string {
  const length = 3 + below(g, 4);
  return Array.from({ length }, () => LETTERS[below(g, 26)]).join('');
}

/** A real word most of the time, a made-up one otherwise. */
function someWord(g: Generator): string {
  return g.uniform() < 0.6 ? pick(g, WORDS) : madeUpWord(g);
}

function reversed(word: string): string {
  return [...word].reverse().join('');
}

function capitalised(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// ---- pretraining sentences ----------------------------------------------------------------------------

type SentenceMaker = (g: Generator) => string;

function additionSentence(g: Generator): string {
  const a = below(g, 100);
  const b = below(g, 100);
  const sum = a + b;
  return pick(g, [
    `${a} plus ${b} is ${sum}.`,
    `the sum of ${a} and ${b} is ${sum}.`,
    `add ${a} and ${b} to get ${sum}.`,
    `${a} + ${b} = ${sum}.`,
    `if you add ${b} to ${a} you get ${sum}.`,
  ]);
}

function reversalSentence(g: Generator): string {
  const w = someWord(g);
  const r = reversed(w);
  return pick(g, [
    `${w} backwards is ${r}.`,
    `the word ${w} reversed is ${r}.`,
    `reverse ${w} to get ${r}.`,
    `spell ${w} backwards and you get ${r}.`,
  ]);
}

function letterCountSentence(g: Generator): string {
  const w = someWord(g);
  const n = w.length;
  return pick(g, [
    `the word ${w} has ${n} letters.`,
    `${w} is ${n} letters long.`,
    `there are ${n} letters in ${w}.`,
    `${w} is spelled ${[...w].join(' ')}, which is ${n} letters.`,
  ]);
}

function alphabetSentence(g: Generator): string {
  const i = below(g, 25);
  const x = LETTERS[i]!;
  const y = LETTERS[i + 1]!;
  const run = LETTERS.slice(i, Math.min(26, i + 3 + below(g, 5))).split('').join(' ');
  return pick(g, [
    `after ${x} comes ${y}.`,
    `before ${y} comes ${x}.`,
    `the letter after ${x} is ${y}.`,
    `in the alphabet: ${run}.`,
  ]);
}

function countingSentence(g: Generator): string {
  const start = below(g, 95);
  const length = 3 + below(g, 5);
  const run = Array.from({ length }, (_, k) => start + k);
  return pick(g, [
    `count from ${run[0]} to ${run[length - 1]}: ${run.join(' ')}.`,
    `after ${start} comes ${start + 1}.`,
    `${start + 1} is one more than ${start}.`,
  ]);
}

const SUBJECTS = ['the cat', 'a dog', 'my friend', 'the farmer', 'a small bird', 'the old king', 'the baker', 'a child', 'the robot', 'her brother'];
const VERBS = ['sees', 'likes', 'finds', 'paints', 'carries', 'reads', 'builds', 'wants', 'keeps', 'draws'];
const OBJECTS = ['a red ball', 'the green door', 'an apple', 'the map', 'a long road', 'the blue boat', 'a warm coat', 'the tall tower', 'a kite', 'the quiet lake'];
const PLACES = ['in the garden', 'by the river', 'at the market', 'on the hill', 'near the school', 'in the morning', 'at night', 'after lunch'];

/** Plain little sentences, so the base model also writes something English-like. */
function storySentence(g: Generator): string {
  const place = g.uniform() < 0.5 ? ` ${pick(g, PLACES)}` : '';
  return `${pick(g, SUBJECTS)} ${pick(g, VERBS)} ${pick(g, OBJECTS)}${place}.`;
}

/** The mix of the pretraining text: arithmetic and word skills dominate, the rest keeps it language-like. */
const SENTENCE_MIX: readonly [SentenceMaker, number][] = [
  [additionSentence, 0.34],
  [reversalSentence, 0.24],
  [letterCountSentence, 0.16],
  [alphabetSentence, 0.08],
  [countingSentence, 0.08],
  [storySentence, 0.10],
];

export function pretrainingSentence(g: Generator): string {
  let u = g.uniform();
  for (const [make, weight] of SENTENCE_MIX) {
    u -= weight;
    if (u < 0) return make(g);
  }
  return SENTENCE_MIX[0]![0](g);
}

/**
 * One pretraining document: 1–4 sentences, one per line, the first capitalised half of the time,
 * then the end-of-text token (so the model learns to stop — the fine-tuning completions end with it).
 */
export function pretrainingDocument(g: Generator): string {
  const count = 1 + below(g, 4);
  const lines = Array.from({ length: count }, () => pretrainingSentence(g));
  if (g.uniform() < 0.5) lines[0] = capitalised(lines[0]!);
  return `${lines.join('\n')}${EOS_TOKEN}`;
}

// ---- the fine-tuning task ------------------------------------------------------------------------------

export type Skill = 'addition' | 'reversal' | 'letter count';

export const SKILLS: readonly Skill[] = ['addition', 'reversal', 'letter count'];

export interface TaskExample {
  prompt: string;
  completion: string;
  skill: Skill;
}

/**
 * One question. The question ends with what it is about, and "\nA: " puts the answer as many
 * characters after it as " is " does in the pretraining sentences ("12 plus 7 is 19", "stone
 * backwards is enots", "stone is 5 letters long"). A model this small finds the digits it adds by
 * relative position (rotary embeddings), so with that distance kept the adapter has to teach the
 * format, not a new way to add: with a question mark before "\nA:" (one character more), the
 * demo's Bone fine-tune still learns reversal and counting but gets 2% of the sums instead of 90%.
 */
function taskExample(g: Generator, skill: Skill): TaskExample {
  switch (skill) {
    case 'addition': {
      const a = below(g, 100);
      const b = below(g, 100);
      return { prompt: `Q: what is ${a} plus ${b}\nA:`, completion: ` ${a + b}`, skill };
    }
    case 'reversal': {
      const w = someWord(g);
      return { prompt: `Q: what is ${w} backwards\nA:`, completion: ` ${reversed(w)}`, skill };
    }
    case 'letter count': {
      const w = someWord(g);
      return { prompt: `Q: how many letters in ${w}\nA:`, completion: ` ${w.length}`, skill };
    }
  }
}

/**
 * Train and eval sets of the question/answer task, the skills in turn. No eval prompt occurs in the
 * train set, so evaluation measures answers the fine-tune did not see.
 */
export function makeTaskSplits(seed: number, trainCount: number, evalCount: number): { train: TaskExample[]; eval: TaskExample[] } {
  const g = new Generator(seed);
  const seen = new Set<string>();
  const draw = (count: number): TaskExample[] => {
    const out: TaskExample[] = [];
    while (out.length < count) {
      const example = taskExample(g, SKILLS[out.length % SKILLS.length]!);
      if (seen.has(example.prompt)) continue;
      seen.add(example.prompt);
      out.push(example);
    }
    return out;
  };
  const evalSet = draw(evalCount);
  return { train: draw(trainCount), eval: evalSet };
}

/**
 * The same facts in the pretraining phrasing ("the sum of 12 and 7 is" → " 19."): what the base
 * model knows before any fine-tuning. The pretraining script reports its accuracy on these.
 */
export function knowledgeProbe(seed: number, count: number): TaskExample[] {
  const g = new Generator(seed);
  return Array.from({ length: count }, (_, i): TaskExample => {
    const skill = SKILLS[i % SKILLS.length]!;
    switch (skill) {
      case 'addition': {
        const a = below(g, 100);
        const b = below(g, 100);
        return { prompt: `the sum of ${a} and ${b} is`, completion: ` ${a + b}.`, skill };
      }
      case 'reversal': {
        const w = someWord(g);
        return { prompt: `${w} backwards is`, completion: ` ${reversed(w)}.`, skill };
      }
      case 'letter count': {
        const w = someWord(g);
        return { prompt: `the word ${w} has`, completion: ` ${w.length} letters.`, skill };
      }
    }
  });
}
