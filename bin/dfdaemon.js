#!/usr/bin/env node
import { loadBuilt } from './built.js';

await loadBuilt('transport/dfdaemon/main.js');
