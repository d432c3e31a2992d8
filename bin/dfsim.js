#!/usr/bin/env -S node --max-semi-space-size=256
// The simulator's young generation (sim/heap.ts): `npx dfsim` runs with it; `node bin/dfsim.js` without.
import { loadBuilt } from './built.js';

await loadBuilt('sim/cli.js');
