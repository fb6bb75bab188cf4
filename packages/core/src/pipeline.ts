import { BRAND, hasBrand } from './brand.js';
import { Graph } from '@dagrejs/graphlib';
import { isExternalData, isProducedData, type ProducedData } from './bindings.js';
import { SluiceError } from './errors.js';
import type { PipelineParameter } from './parameters.js';
import type { StepDefinition } from './step.js';

/** Steps may be given nested (`[prepare, [train, compare]]`), as the original SDK allowed. */
export type StepList = ReadonlyArray<StepDefinition | StepList>;

export interface PipelineOptions {
  name?: string;
  description?: string;
  steps: StepList;
  /** Accepted for familiarity with `Pipeline(workspace, steps)`; a pipeline is not tied to a workspace. */
  workspace?: unknown;
}

export interface PipelineEdge {
  from: string;
  to: string;
  /** The data that links the steps, or absent for an explicit `runAfter`. */
  data?: string;
}

export interface PipelineGraphJson {
  nodes: Array<{
    name: string;
    /** The step's name as given, where it differs from its id (`name`). */
    displayName?: string;
    kind: string;
    inputs: string[];
    outputs: string[];
    computeTarget?: string;
  }>;
  edges: PipelineEdge[];
}

/**
 * A validated graph of steps. Building one checks names, data flow, parameters and cycles; nothing runs
 * and nothing is uploaded.
 */
export class Pipeline {
  readonly [BRAND] = 'Pipeline';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'Pipeline');
  }
  readonly name: string;
  readonly description: string;
  readonly steps: readonly StepDefinition[];
  /** Every parameter the steps use, by name. */
  readonly parameters: ReadonlyMap<string, PipelineParameter>;
  readonly #graph: Graph;
  readonly #producers = new Map<ProducedData, StepDefinition>();
  readonly #edges: PipelineEdge[] = [];
  readonly #order: string[];
  readonly #byName: Map<string, StepDefinition>;

  constructor(options: PipelineOptions) {
    if (!options || !Array.isArray(options.steps)) {
      throw new SluiceError('PIPELINE_INVALID', 'A Pipeline needs `steps`: an array of steps.');
    }
    this.name = options.name ?? 'pipeline';
    this.description = options.description ?? '';
    const given = flattenSteps(options.steps);
    if (given.length === 0) {
      throw new SluiceError('PIPELINE_EMPTY', `Pipeline "${this.name}" has no steps; give it at least one.`);
    }
    const steps = uniqueIds(given);
    this.steps = Object.freeze(steps);

    const byName = new Map<string, StepDefinition>();
    for (const step of steps) byName.set(step.name, step);

    const parameters = new Map<string, PipelineParameter>();
    for (const step of steps) {
      for (const parameter of step.parameters) {
        const known = parameters.get(parameter.name);
        if (known && known !== parameter && known.defaultValue !== parameter.defaultValue) {
          throw new SluiceError(
            'PARAMETER_CONFLICT',
            `Parameter "${parameter.name}" is defined twice with different defaults (${JSON.stringify(known.defaultValue)} and ${JSON.stringify(parameter.defaultValue)}); use one PipelineParameter object.`,
            { details: { parameter: parameter.name } },
          );
        }
        if (!known) parameters.set(parameter.name, parameter);
      }
    }
    this.parameters = parameters;

    const outputNames = new Map<string, StepDefinition>();
    for (const step of steps) {
      for (const output of step.outputs) {
        const producer = this.#producers.get(output);
        if (producer) {
          throw new SluiceError(
            'OUTPUT_PRODUCED_TWICE',
            `Output "${output.name}" is produced by both "${producer.name}" and "${step.name}"; each output has exactly one producing step.`,
            { details: { output: output.name, steps: [producer.name, step.name] } },
          );
        }
        const sameName = outputNames.get(output.outputName);
        if (sameName) {
          throw new SluiceError(
            'OUTPUT_PRODUCED_TWICE',
            `Steps "${sameName.name}" and "${step.name}" both produce an output named "${output.outputName}"; give the outputs distinct names.`,
            { details: { output: output.outputName, steps: [sameName.name, step.name] } },
          );
        }
        this.#producers.set(output, step);
        outputNames.set(output.outputName, step);
      }
    }

    const graph = new Graph({ directed: true, multigraph: false });
    for (const step of steps) graph.setNode(step.name, step);
    for (const step of steps) {
      for (const input of step.inputs) {
        const source = input.source;
        if (isProducedData(source)) {
          const producer = this.#producers.get(source);
          if (!producer) {
            throw new SluiceError(
              'INPUT_NOT_PRODUCED',
              `Step "${step.name}" consumes "${source.name}", which no step in the pipeline produces. Add the producing step, or use a DataReference or dataset for data that already exists.`,
              { details: { step: step.name, input: source.name } },
            );
          }
          this.#addEdge(graph, { from: producer.name, to: step.name, data: source.name });
        } else if (!isExternalData(source)) {
          throw new SluiceError('STEP_INVALID', `Step "${step.name}" has an input of an unknown kind.`);
        }
      }
      for (const before of step.runAfter) {
        if (byName.get(before.name) !== before) {
          throw new SluiceError(
            'STEP_INVALID',
            `Step "${step.name}" runs after "${before.name}", which is not part of the pipeline; add it to the steps.`,
            { details: { step: step.name, runAfter: before.name } },
          );
        }
        this.#addEdge(graph, { from: before.name, to: step.name });
      }
    }

    const { order, cycle } = topologicalOrder(graph);
    if (cycle) {
      throw new SluiceError(
        'CYCLE_DETECTED',
        `The steps ${cycle.map((name) => `"${name}"`).join(' → ')} → "${cycle[0]}" depend on each other in a cycle; remove one of the dependencies.`,
        { details: { steps: cycle } },
      );
    }
    this.#graph = graph;
    this.#byName = byName;
    this.#order = order;
  }

  #addEdge(graph: Graph, edge: PipelineEdge): void {
    if (edge.from === edge.to) {
      throw new SluiceError(
        'CYCLE_DETECTED',
        `Step "${edge.from}" consumes its own output${edge.data ? ` "${edge.data}"` : ''}; a step cannot depend on itself.`,
        { details: { steps: [edge.from] } },
      );
    }
    this.#edges.push(edge);
    graph.setEdge(edge.from, edge.to);
  }

  /** Step names in an order where every step comes after those it depends on. */
  get order(): readonly string[] {
    return this.#order;
  }

  getStep(name: string): StepDefinition | undefined {
    return this.#byName.get(name);
  }

  /** The step that produces a piece of data. */
  producerOf(data: ProducedData): StepDefinition | undefined {
    return this.#producers.get(data);
  }

  /** Names of the steps a step directly depends on. */
  dependenciesOf(name: string): string[] {
    return (this.#graph.predecessors(name) as string[] | undefined) ?? [];
  }

  /** Names of the steps that directly depend on a step. */
  dependantsOf(name: string): string[] {
    return (this.#graph.successors(name) as string[] | undefined) ?? [];
  }

  get edges(): readonly PipelineEdge[] {
    return this.#edges;
  }

  /** The graph as plain data, for records, the CLI and drawings. */
  toGraphJson(): PipelineGraphJson {
    return {
      nodes: this.#order.map((name) => {
        const step = this.getStep(name)!;
        return {
          name,
          kind: step.kind,
          inputs: step.inputs.map((input) => input.name),
          outputs: step.outputs.map((output) => output.outputName),
          ...(step.displayName !== undefined && step.displayName !== name
            ? { displayName: step.displayName }
            : {}),
          ...(step.computeTarget ? { computeTarget: step.computeTarget } : {}),
        };
      }),
      edges: [...this.#edges],
    };
  }
}

function flattenSteps(list: StepList): StepDefinition[] {
  const steps: StepDefinition[] = [];
  const visit = (entry: StepDefinition | StepList): void => {
    if (Array.isArray(entry)) {
      (entry as StepList).forEach(visit);
      return;
    }
    const step = entry as StepDefinition;
    if (!step || typeof step !== 'object' || typeof step.name !== 'string' || typeof step.kind !== 'string') {
      throw new SluiceError('PIPELINE_INVALID', 'Pipeline steps must be step objects (or arrays of them).');
    }
    if (!steps.includes(step)) steps.push(step);
  };
  list.forEach(visit);
  return steps;
}

/**
 * Give every step an id unique within the pipeline. Two steps with the same name are a mistake; two whose
 * different names give the same id (`"Hello World"`, `"Hello_World"`) keep their names, and the later one's
 * id gets a suffix (`Hello_World_2`), in the order the steps are given, so it is the same every time.
 */
function uniqueIds(steps: StepDefinition[]): StepDefinition[] {
  const shown = new Map<string, StepDefinition>();
  for (const step of steps) {
    const display = step.displayName ?? step.name;
    if (shown.has(display)) {
      throw new SluiceError(
        'STEP_NAME_DUPLICATE',
        `Two steps are named "${display}"; step names must be unique within a pipeline: give one another name.`,
        { details: { step: display } },
      );
    }
    shown.set(display, step);
  }
  const taken = new Set(steps.filter((step) => step.displayName === undefined).map((step) => step.name));
  const used = new Set<string>();
  const renamed = new Map<StepDefinition, StepDefinition>();
  const ids = new Map<StepDefinition, string>();
  for (const step of steps) {
    let id = step.name;
    if (used.has(id) || (step.displayName !== undefined && taken.has(id))) {
      let n = 2;
      while (used.has(`${step.name}_${n}`) || taken.has(`${step.name}_${n}`)) n += 1;
      id = `${step.name}_${n}`;
    }
    used.add(id);
    ids.set(step, id);
  }
  const copy = (step: StepDefinition): StepDefinition => {
    const known = renamed.get(step);
    if (known) return known;
    const id = ids.get(step) ?? step.name;
    const runAfter = step.runAfter.map((before) => (ids.has(before) ? copy(before) : before));
    const changed = id !== step.name || runAfter.some((before, i) => before !== step.runAfter[i]);
    const result = changed
      ? (Object.freeze(
          Object.assign(Object.create(Object.getPrototypeOf(step) as object) as object, step, {
            name: id,
            runAfter: Object.freeze(runAfter),
          }),
        ) as StepDefinition)
      : step;
    renamed.set(step, result);
    return result;
  };
  return steps.map(copy);
}

/**
 * The steps in dependency order (Kahn's algorithm), or a cycle among them (each step depends on the one
 * before it, the first on the last). Iterative, unlike graphlib's `topsort` and `findCycles`, which recurse
 * once per step of a chain and overflow the stack on chains of a few thousand steps.
 */
function topologicalOrder(graph: Graph): { order: string[]; cycle?: string[] } {
  const waiting = new Map<string, number>();
  const ready: string[] = [];
  for (const node of graph.nodes()) {
    const count = graph.predecessors(node)?.length ?? 0;
    waiting.set(node, count);
    if (count === 0) ready.push(node);
  }
  const order: string[] = [];
  for (let next = 0; next < ready.length; next++) {
    const node = ready[next]!;
    order.push(node);
    for (const successor of graph.successors(node) ?? []) {
      const count = waiting.get(successor)! - 1;
      waiting.set(successor, count);
      if (count === 0) ready.push(successor);
    }
  }
  if (order.length === waiting.size) return { order };
  // every step left waits for another step left: walk back through those until one repeats
  const left = (node: string): boolean => waiting.get(node)! > 0;
  const walk: string[] = [];
  const seen = new Map<string, number>();
  let node = [...waiting.keys()].find(left)!;
  while (!seen.has(node)) {
    seen.set(node, walk.length);
    walk.push(node);
    node = graph.predecessors(node)!.find(left)!;
  }
  return { order, cycle: walk.slice(seen.get(node)).reverse() };
}
