import { PythonScriptStep, pythonScriptStep } from '@sluice/step-python';
import { testStepKind } from '../index.js';

// The first-party step kind is held to the suite every third-party step kind runs.
testStepKind('PythonScriptStep (@sluice/step-python)', () => ({
  plugin: pythonScriptStep(),
  sourceFiles: {
    'succeed.py': [
      'import os, sys',
      'output, text = sys.argv[1], sys.argv[2]',
      'with open(os.path.join(output, "result.txt"), "w", encoding="utf-8") as handle:',
      '    handle.write(text)',
      'print(text)',
      '',
    ].join('\n'),
    'fail.py': [
      'import os, sys',
      'output, text = sys.argv[1], sys.argv[2]',
      '# a partial output: it must never be committed or reused',
      'with open(os.path.join(output, "result.txt"), "w", encoding="utf-8") as handle:',
      '    handle.write(text[: len(text) // 2])',
      'sys.exit("failing on purpose")',
      '',
    ].join('\n'),
    'sleep.py': 'import time\ntime.sleep(120)\n',
  },
  printsText: true,
  makeStep: ({ name, behaviour, sourceDirectory, output, text, allowReuse }) =>
    new PythonScriptStep({
      name,
      scriptName: `${behaviour}.py`,
      sourceDirectory,
      arguments: [output, text],
      outputs: [output],
      allowReuse,
    }),
}));
