/** The entry of the browser bundle (dist/browser/bone-peft.js, "bone-peft/web/bundle"): bone-peft/web as one file. */
export * from '../index.ts';
