#!/usr/bin/env node
import { loadBuilt, printBuiltHelp } from './built.js';

if (!printBuiltHelp('dfget')) {
  const { main } = await loadBuilt('transport/dfget/cli.js');
  process.exit(await main(process.argv));
}
