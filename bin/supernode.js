#!/usr/bin/env node
import { loadBuilt, printBuiltHelp } from './built.js';

if (!printBuiltHelp('supernode')) {
  const { main } = await loadBuilt('transport/supernode/main.js');
  process.exitCode = await main(process.argv);
}
