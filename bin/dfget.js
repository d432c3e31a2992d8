#!/usr/bin/env node
import { loadBuilt } from './built.js';

const { main } = await loadBuilt('transport/dfget/cli.js');
process.exit(await main(process.argv));
