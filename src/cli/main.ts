#!/usr/bin/env node
// The `mote` command line: parse → resolve config → call the library. All printing lives in src/cli/.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { aligncotCommand } from './commands/aligncot.js';
import { benchCommand } from './commands/bench.js';
import { chatCommand } from './commands/chat.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { experimentCommand } from './commands/experiment.js';
import { exportCommand } from './commands/export.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';
import { plotCommand } from './commands/plot.js';
import { pretrainCommand } from './commands/pretrain.js';
import { trainCommand } from './commands/train.js';
import { errorReport } from './error-report.js';
import { terminalSafe } from './terminal-text.js';

await yargs(hideBin(process.argv))
  .scriptName('mote')
  .command(infoCommand)
  .command(generateCommand)
  .command(chatCommand)
  .command(evalCommand)
  .command(demoCommand)
  .command(experimentCommand)
  .command(aligncotCommand)
  .command(pretrainCommand)
  .command(trainCommand)
  .command(exportCommand)
  .command(plotCommand)
  .command(benchCommand)
  .demandCommand(1, 'name a command (see --help)')
  .strict()
  .recommendCommands()
  .fail((msg, err, y) => {
    // error messages can quote data files and servers: shown with control characters escaped
    if (err) process.stderr.write(`${terminalSafe(errorReport(err))}\n`);
    else process.stderr.write(`${y.help()}\n\nmote: ${msg}\n`);
    process.exit(1);
  })
  .help()
  .parseAsync();
