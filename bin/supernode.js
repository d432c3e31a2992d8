#!/usr/bin/env node
import { loadBuilt } from './built.js';

const { main } = await loadBuilt('transport/supernode/main.js');
process.exitCode = await main(process.argv);
