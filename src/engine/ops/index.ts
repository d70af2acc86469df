/** Every op's front-end function; the Tensor methods delegate here. */
export * from './elementwise.ts';
export * from './reduce.ts';
export * from './shape.ts';
export * from './matmul.ts';
export * from './nn.ts';
export * from './random.ts';
export * from './blocked-attention.ts';
