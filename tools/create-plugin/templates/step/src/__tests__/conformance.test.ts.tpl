import { testStepKind } from '@sluice/testing';
import { {{Pascal}}Step, {{camel}}Step } from '../index.js';

// The shared conformance suite every step kind passes: it runs these steps for real in new workspaces.
testStepKind('{{Pascal}}Step', () => ({
  plugin: {{camel}}Step(),
  // written into the source directory each step runs from
  sourceFiles: {
    'succeed.mjs': [
      "import { writeFileSync } from 'node:fs';",
      "import { join } from 'node:path';",
      'const [output, text] = process.argv.slice(2);',
      "writeFileSync(join(output, 'result.txt'), text);",
      'console.log(text);',
      '',
    ].join('\n'),
    'fail.mjs': "console.error('failing on purpose');\nprocess.exit(1);\n",
    'sleep.mjs': 'setTimeout(() => {}, 120_000);\n',
  },
  printsText: true,
  makeStep: ({ name, behaviour, sourceDirectory, output, text, allowReuse }) =>
    new {{Pascal}}Step({
      name,
      command: process.execPath,
      arguments: [`${behaviour}.mjs`, output, text],
      sourceDirectory,
      outputs: [output],
      allowReuse,
    }),
}));
