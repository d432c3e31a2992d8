#!/usr/bin/env node
import { loadBuilt, printBuiltHelp } from './built.js';

if (!printBuiltHelp('dfdaemon')) await loadBuilt('transport/dfdaemon/main.js');
