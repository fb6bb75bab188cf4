import { testStepKind } from '@sluice/testing';
import { NodeScriptStep, nodeScriptStep } from '../index.js';

// The step kind passes the same conformance suite as every first-party step kind.
testStepKind('NodeScriptStep (example)', () => ({
  plugin: nodeScriptStep(),
  sourceFiles: {
    'succeed.mjs': [
      "import { writeFileSync } from 'node:fs';",
      "import { join } from 'node:path';",
      'const [output, text] = process.argv.slice(2);',
      "writeFileSync(join(output, 'result.txt'), text);",
      'console.log(text);',
      '',
    ].join('\n'),
    'fail.mjs': [
      "import { writeFileSync } from 'node:fs';",
      "import { join } from 'node:path';",
      'const [output, text] = process.argv.slice(2);',
      "writeFileSync(join(output, 'result.txt'), text.slice(0, 3)); // a partial output, never kept",
      "console.error('failing on purpose');",
      'process.exit(1);',
      '',
    ].join('\n'),
    'sleep.mjs': 'setTimeout(() => {}, 120_000);\n',
  },
  printsText: true,
  makeStep: ({ name, behaviour, sourceDirectory, output, text, allowReuse }) =>
    new NodeScriptStep({
      name,
      scriptName: `${behaviour}.mjs`,
      sourceDirectory,
      arguments: [output, text],
      outputs: [output],
      allowReuse,
    }),
}));
