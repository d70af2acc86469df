/**
 * Elementwise ops with numpy broadcasting. Each definition holds the shape/dtype rule, the ONNX
 * lowering and the vector-Jacobian product; composites (silu, gelu) are built from them.
 */
import { ShapeError } from '../errors.ts';
import { ONNX_DTYPE, runtimeDType, type DType } from '../dtype.ts';
import { apply, defineOp, type OpDef } from '../op.ts';
import type { Tensor, Scalar } from '../tensor.ts';
import { sumToShape } from './reduce.ts';
import { broadcastShapes, operand, requireComputable, requireFloat, requireSameDType } from './util.ts';

type Operand = Tensor | number;

function binary(name: string, onnx: string, vjp?: OpDef['vjp']): OpDef {
  return defineOp({
    name,
    infer([a, b]) {
      requireComputable(a!);
      return { shape: broadcastShapes(a!.shape, b!.shape), dtype: requireSameDType([a!, b!]) };
    },
    lower: (g, ins) => g.node(onnx, ins),
    vjp,
  });
}

function unaryFloat(name: string, lower: OpDef['lower'], vjp?: OpDef['vjp']): OpDef {
  return defineOp({
    name,
    infer([x]) { requireFloat(x!); return { shape: [...x!.shape], dtype: x!.dtype }; },
    lower,
    vjp,
  });
}

const onnxUnary = (op: string): OpDef['lower'] => (g, ins) => g.node(op, ins);

const ADD = binary('add', 'Add', (g, n) => [sumToShape(g, n.inputs[0]!.shape), sumToShape(g, n.inputs[1]!.shape)]);
const SUB = binary('sub', 'Sub', (g, n) => [sumToShape(g, n.inputs[0]!.shape), sumToShape(neg(g), n.inputs[1]!.shape)]);
const MUL = binary('mul', 'Mul', (g, n) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  return [sumToShape(mul(g, b), a.shape), sumToShape(mul(g, a), b.shape)];
});
const DIV = binary('div', 'Div', (g, n) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  return [sumToShape(div(g, b), a.shape), sumToShape(neg(div(mul(g, n), b)), b.shape)];
});
const MAXIMUM = binary('maximum', 'Max', (g, n) => tieSplitGrad(g, n, gt));
const MINIMUM = binary('minimum', 'Min', (g, n) => tieSplitGrad(g, n, lt));

/** Like torch: where both operands are equal the gradient is split evenly between them. */
function tieSplitGrad(g: Tensor, n: Tensor, wins: (a: Tensor, b: Tensor) => Tensor): Tensor[] {
  const [a, b] = n.inputs as [Tensor, Tensor];
  const wa = add(cast(wins(a, b), a.dtype), mul(cast(eq(a, b), a.dtype), 0.5));
  return [sumToShape(mul(g, wa), a.shape), sumToShape(mul(g, sub(1, wa)), b.shape)];
}

export const add = (a: Operand, b: Operand): Tensor => binaryApply(ADD, a, b);
export const sub = (a: Operand, b: Operand): Tensor => binaryApply(SUB, a, b);
export const mul = (a: Operand, b: Operand): Tensor => binaryApply(MUL, a, b);
export const div = (a: Operand, b: Operand): Tensor => binaryApply(DIV, a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binaryApply(MAXIMUM, a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binaryApply(MINIMUM, a, b);

function binaryApply(op: OpDef, a: Tensor | Scalar, b: Tensor | Scalar): Tensor {
  if (typeof a !== 'object') {
    if (typeof b !== 'object') throw new ShapeError(`${op.name}: at least one operand must be a Tensor`);
    return apply(op, [operand(a, b), b], {});
  }
  return apply(op, [a, operand(b, a)], {});
}

// ---- unary ----------------------------------------------------------------------------------------

const NEG = defineOp({
  name: 'neg',
  infer([x]) { requireComputable(x!); return { shape: [...x!.shape], dtype: x!.dtype }; },
  lower: onnxUnary('Neg'),
  vjp: (g) => [neg(g)],
});
export const neg = (x: Tensor): Tensor => apply(NEG, [x], {});

const POW = defineOp<{ exponent: number }>({
  name: 'pow',
  infer([x]) { requireFloat(x!); return { shape: [...x!.shape], dtype: x!.dtype }; },
  lower: (g, [x], a, n) => g.node('Pow', [x!, g.constScalar(a.exponent, n.dtype)]),
  vjp: (g, n) => {
    const p = n.attrs.exponent as number;
    const x = n.inputs[0]!;
    // x⁰ is constant: no gradient (0·x⁻¹ would be NaN at x = 0; torch gives 0).
    if (p === 0) return [null];
    return [mul(g, p === 2 ? mul(x, 2) : mul(pow(x, p - 1), p))];
  },
});
export const pow = (x: Tensor, exponent: number): Tensor => {
  if (exponent === 1) return x;
  return apply(POW, [x], { exponent });
};

const SQRT = unaryFloat('sqrt', onnxUnary('Sqrt'), (g, n) => [div(mul(g, 0.5), n)]);
const RSQRT = unaryFloat('rsqrt', (g, [x]) => g.node('Reciprocal', [g.node('Sqrt', [x!])]),
  (g, n) => [mul(mul(g, -0.5), mul(n, mul(n, n)))]);
const EXP = unaryFloat('exp', onnxUnary('Exp'), (g, n) => [mul(g, n)]);
const LOG = unaryFloat('log', onnxUnary('Log'), (g, n) => [div(g, n.inputs[0]!)]);
const ABS = unaryFloat('abs', onnxUnary('Abs'), (g, n) => [mul(g, sign(n.inputs[0]!))]);
const SIGN = unaryFloat('sign', onnxUnary('Sign'));
const TANH = unaryFloat('tanh', onnxUnary('Tanh'), (g, n) => [mul(g, sub(1, mul(n, n)))]);
const SIGMOID = unaryFloat('sigmoid', onnxUnary('Sigmoid'), (g, n) => [mul(g, mul(n, sub(1, n)))]);
const RELU = unaryFloat('relu', onnxUnary('Relu'), (g, n) => [mul(g, cast(gt(n.inputs[0]!, 0), g.dtype))]);
const SIN = unaryFloat('sin', onnxUnary('Sin'), (g, n) => [mul(g, cos(n.inputs[0]!))]);
const COS = unaryFloat('cos', onnxUnary('Cos'), (g, n) => [neg(mul(g, sin(n.inputs[0]!)))]);
const ERF = unaryFloat('erf', onnxUnary('Erf'), (g, n) => {
  const x = n.inputs[0]!;
  return [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))];
});

export const sqrt = (x: Tensor): Tensor => apply(SQRT, [x], {});
export const rsqrt = (x: Tensor): Tensor => apply(RSQRT, [x], {});
export const exp = (x: Tensor): Tensor => apply(EXP, [x], {});
export const log = (x: Tensor): Tensor => apply(LOG, [x], {});
export const abs = (x: Tensor): Tensor => apply(ABS, [x], {});
export const sign = (x: Tensor): Tensor => apply(SIGN, [x], {});
export const tanh = (x: Tensor): Tensor => apply(TANH, [x], {});
export const sigmoid = (x: Tensor): Tensor => apply(SIGMOID, [x], {});
export const relu = (x: Tensor): Tensor => apply(RELU, [x], {});
export const sin = (x: Tensor): Tensor => apply(SIN, [x], {});
export const cos = (x: Tensor): Tensor => apply(COS, [x], {});
export const erf = (x: Tensor): Tensor => apply(ERF, [x], {});

export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x));

/** GELU, exact (erf) like torch's default, or the tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate === 'tanh') {
    const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

// ---- comparisons and logic (no gradient) --------------------------------------------------------

function compare(name: string, lower: OpDef['lower']): OpDef {
  return defineOp({
    name,
    infer([a, b]) {
      requireComputable(a!);
      requireSameDType([a!, b!]);
      return { shape: broadcastShapes(a!.shape, b!.shape), dtype: 'bool' };
    },
    lower,
  });
}

const EQ = compare('eq', (g, ins) => g.node('Equal', ins));
const NE = compare('ne', (g, ins) => g.node('Not', [g.node('Equal', ins)]));
const LT = compare('lt', (g, ins) => g.node('Less', ins));
const LE = compare('le', (g, ins) => g.node('LessOrEqual', ins));
const GT = compare('gt', (g, ins) => g.node('Greater', ins));
const GE = compare('ge', (g, ins) => g.node('GreaterOrEqual', ins));

export const eq = (a: Tensor, b: Tensor | Scalar): Tensor => apply(EQ, [a, operand(b, a)], {});
export const ne = (a: Tensor, b: Tensor | Scalar): Tensor => apply(NE, [a, operand(b, a)], {});
export const lt = (a: Tensor, b: Tensor | Scalar): Tensor => apply(LT, [a, operand(b, a)], {});
export const le = (a: Tensor, b: Tensor | Scalar): Tensor => apply(LE, [a, operand(b, a)], {});
export const gt = (a: Tensor, b: Tensor | Scalar): Tensor => apply(GT, [a, operand(b, a)], {});
export const ge = (a: Tensor, b: Tensor | Scalar): Tensor => apply(GE, [a, operand(b, a)], {});

function logical(name: string, onnx: string, arity: 1 | 2): OpDef {
  return defineOp({
    name,
    infer(ins) {
      for (const t of ins) if (t.dtype !== 'bool') throw new ShapeError(`expected bool tensors, found ${t.dtype}`);
      return { shape: arity === 2 ? broadcastShapes(ins[0]!.shape, ins[1]!.shape) : [...ins[0]!.shape], dtype: 'bool' };
    },
    lower: (g, ins) => g.node(onnx, ins),
  });
}
const AND = logical('logical_and', 'And', 2);
const OR = logical('logical_or', 'Or', 2);
const XOR = logical('logical_xor', 'Xor', 2);
const NOT = logical('logical_not', 'Not', 1);
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => apply(AND, [a, b], {});
export const logicalOr = (a: Tensor, b: Tensor): Tensor => apply(OR, [a, b], {});
export const logicalXor = (a: Tensor, b: Tensor): Tensor => apply(XOR, [a, b], {});
export const logicalNot = (a: Tensor): Tensor => apply(NOT, [a], {});

// ---- where, cast, stop-gradient -------------------------------------------------------------------

const WHERE = defineOp({
  name: 'where',
  infer([c, a, b]) {
    if (c!.dtype !== 'bool') throw new ShapeError(`condition must be bool, found ${c!.dtype}`);
    const dtype = requireSameDType([a!, b!]);
    return { shape: broadcastShapes(c!.shape, broadcastShapes(a!.shape, b!.shape)), dtype };
  },
  lower: (g, ins) => g.node('Where', ins),
  vjp: (g, n) => {
    const [c, a, b] = n.inputs as [Tensor, Tensor, Tensor];
    return [null, sumToShape(where(c, g, 0), a.shape), sumToShape(where(c, 0, g), b.shape)];
  },
});

/** Elementwise select; scalar branches take the other branch's dtype. */
export function where(cond: Tensor, a: Tensor | Scalar, b: Tensor | Scalar): Tensor {
  if (typeof a !== 'object' && typeof b !== 'object') throw new ShapeError('where: at least one branch must be a Tensor');
  const ta = typeof a === 'object' ? a : operand(a, b as Tensor);
  const tb = typeof b === 'object' ? b : operand(b, ta);
  return apply(WHERE, [cond, ta, tb], {});
}

const CAST = defineOp<{ to: DType }>({
  name: 'cast',
  infer([x], a) { return { shape: [...x!.shape], dtype: a.to }; },
  lower: (g, [x], a, n) => {
    const from = runtimeDType(n.inputs[0]!.dtype);
    const to = runtimeDType(a.to);
    // A cast to a storage type rounds inside the graph too (values must not depend on whether the
    // result is realised before it is used): through the real type and back to float32.
    if (a.to !== n.inputs[0]!.dtype && (a.to === 'float16' || a.to === 'bfloat16')) {
      return g.node('Cast', [g.node('Cast', [x!], { to: ONNX_DTYPE[a.to] })], { to: ONNX_DTYPE[to] });
    }
    return from === to ? g.node('Identity', [x!]) : g.node('Cast', [x!], { to: ONNX_DTYPE[to] });
  },
  vjp: (g, n) => {
    const x = n.inputs[0]!;
    const differentiable = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
    return [differentiable(x.dtype) && differentiable(n.dtype) ? cast(g, x.dtype) : null];
  },
});

export const cast = (x: Tensor, to: DType): Tensor => (x.dtype === to ? x : apply(CAST, [x], { to }));

const STOP_GRADIENT = defineOp({
  name: 'stop_gradient',
  infer([x]) { return { shape: [...x!.shape], dtype: x!.dtype }; },
  lower: (g, ins) => g.node('Identity', ins),
  vjp: () => [null],
});
export const stopGradient = (x: Tensor): Tensor => apply(STOP_GRADIENT, [x], {});
