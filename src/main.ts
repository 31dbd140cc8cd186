#!/usr/bin/env node
/** Entry point of `npm start`: the command line's default subcommand (serve). */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));
