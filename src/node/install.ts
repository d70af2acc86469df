/**
 * Installs the Node platform as a side effect: `node --import ./src/node/install.ts` gives scripts
 * and tests that import core modules directly (src/engine, src/io, ...) what "bone-peft" gives users.
 */
import { installNodePlatform } from './platform.ts';

installNodePlatform();
