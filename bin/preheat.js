#!/usr/bin/env node
import { loadBuilt } from './built.js';

const { main } = await loadBuilt('transport/preheat/cli.js');
process.exitCode = await main(process.argv);
