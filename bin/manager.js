#!/usr/bin/env node
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../transport/manager/main.ts');
process.exitCode = await main(process.argv);
