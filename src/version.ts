/**
 * bone-peft's version, for what it writes (the model card's "Framework versions"). A constant, not
 * read from package.json at run time, because a browser has no package.json to read;
 * test/misc/version.test.ts keeps it equal to package.json's.
 */
export const BONE_PEFT_VERSION = '0.1.0';
