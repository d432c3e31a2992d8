#!/usr/bin/env node
import { loadBuilt } from './built.js';

await loadBuilt('sim/cli.js');
