/**
 * Validators for the deployment examples, with schemas that come from npm packages (nothing is
 * downloaded at test time):
 *
 * - Kubernetes: kubernetes-models, whose validators are ajv compiled from the upstream OpenAPI
 *   definitions (Kubernetes 1.33 in 4.5.1): types, enums, required fields, formats. Those schemas
 *   allow unknown fields (the API server drops them, or refuses them under strict field
 *   validation), so a misspelt `readOnlyRootFileSystem` would pass: `unknownFieldProblems` type-checks
 *   each object against the package's TypeScript interfaces, generated from the same definitions,
 *   where an unknown field is an excess property.
 * - Compose: the compose-spec JSON schema as dclint ships it, checked with ajv (draft 2019-09), as
 *   Docker Compose checks a file against the same schema.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ajv2019 from "ajv/dist/2019.js";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** One document of a manifest, with where it came from for messages. */
export interface ManifestDocument {
  readonly file: string;
  readonly index: number;
  readonly object: KubernetesObject;
}

interface ValidatingModel {
  validate(): void;
}

interface KindSupport {
  /** kubernetes-models' class: its validate() runs the compiled upstream schema. */
  readonly model: new (
    data: never,
  ) => ValidatingModel;
  /** Where the TypeScript interface of the same kind lives, and its name. */
  readonly typeModule: string;
  readonly typeName: string;
}

/** The kinds the examples use; any other kind is an error, not a silent pass. */
const KINDS: ReadonlyMap<string, KindSupport> = new Map<string, KindSupport>([
  [
    "v1/ConfigMap",
    { model: ConfigMap, typeModule: "kubernetes-models/v1/ConfigMap", typeName: "IConfigMap" },
  ],
  ["v1/Secret", { model: Secret, typeModule: "kubernetes-models/v1/Secret", typeName: "ISecret" }],
  ["v1/Service", { model: Service, typeModule: "kubernetes-models/v1/Service", typeName: "IService" }],
  [
    "apps/v1/Deployment",
    { model: Deployment, typeModule: "kubernetes-models/apps/v1/Deployment", typeName: "IDeployment" },
  ],
  [
    "networking.k8s.io/v1/NetworkPolicy",
    {
      model: NetworkPolicy,
      typeModule: "kubernetes-models/networking.k8s.io/v1/NetworkPolicy",
      typeName: "INetworkPolicy",
    },
  ],
  [
    "policy/v1/PodDisruptionBudget",
    {
      model: PodDisruptionBudget,
      typeModule: "kubernetes-models/policy/v1/PodDisruptionBudget",
      typeName: "IPodDisruptionBudget",
    },
  ],
]);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every *.yaml and *.yml under a directory of the repository, sorted, relative to the top. */
export function yamlFilesUnder(directory: string): string[] {
  return readdirSync(join(ROOT, directory), { recursive: true, encoding: "utf8" })
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(directory, name))
    .sort();
}

/**
 * The documents of a YAML text; any YAML error or warning (a duplicate key, a bad indent) throws.
 * Kubernetes reads YAML 1.1 (sigs.k8s.io/yaml), where 0440 is octal: say "1.1" for manifests.
 */
export function parseYaml(text: string, source: string, version: "1.1" | "1.2"): unknown[] {
  const documents = parseAllDocuments(text, { version, merge: true, uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(documents)) return [];
  const values: unknown[] = [];
  for (const document of documents) {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) {
      throw new Error(`${source}: ${problems.map((p) => p.message).join("; ")}`);
    }
    const value: unknown = document.toJS({ maxAliasCount: 10 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/** The Kubernetes objects of a manifest file; a document that is not an object with apiVersion and kind throws. */
export function readManifest(file: string): ManifestDocument[] {
  return parseYaml(readFileSync(join(ROOT, file), "utf8"), file, "1.1").map((value, index) => {
    if (!isRecord(value) || typeof value.apiVersion !== "string" || typeof value.kind !== "string") {
      throw new Error(`${file} document ${index}: not a Kubernetes object (apiVersion and kind are needed)`);
    }
    return { file, index, object: { ...value, apiVersion: value.apiVersion, kind: value.kind } };
  });
}

function describe(document: ManifestDocument): string {
  return `${document.file} document ${document.index} (${document.object.kind})`;
}

/** Problems the upstream schema finds in one object: a wrong type, a bad enum value, a missing field. */
export function schemaProblems(document: ManifestDocument): string[] {
  const support = KINDS.get(`${document.object.apiVersion}/${document.object.kind}`);
  if (!support) {
    return [
      `${describe(document)}: ${document.object.apiVersion} ${document.object.kind} is not a kind this test knows`,
    ];
  }
  // The model copies the data and runs the compiled validator on it; the data is unknown here, and
  // validate() is what decides whether it fits.
  const model = new support.model(document.object as never);
  try {
    model.validate();
    return [];
  } catch (err) {
    return [`${describe(document)}: ${err instanceof Error ? err.message : String(err)}`];
  }
}

/**
 * Fields the kind does not have, anywhere in the object: each object becomes a TypeScript object
 * literal typed with kubernetes-models' interface for its kind, and the compiler reports every
 * excess property (and every wrong type again). One program for all the documents given.
 */
export function unknownFieldProblems(documents: readonly ManifestDocument[]): string[] {
  const fileName = join(ROOT, "test", "deploy", "__manifests__.ts");
  const problems: string[] = [];
  const typed: { document: ManifestDocument; support: KindSupport }[] = [];
  for (const document of documents) {
    const support = KINDS.get(`${document.object.apiVersion}/${document.object.kind}`);
    if (support) typed.push({ document, support });
    else
      problems.push(
        `${describe(document)}: ${document.object.apiVersion} ${document.object.kind} is not a kind this test knows`,
      );
  }
  const lines = typed.map(
    ({ support }, i) => `import type { ${support.typeName} as T${i} } from "${support.typeModule}";`,
  );
  const firstLines: number[] = [];
  typed.forEach(({ document }, i) => {
    firstLines.push(lines.length);
    lines.push(`export const d${i}: T${i} = ${JSON.stringify(document.object, null, 2)};`);
  });
  const source = `${lines.join("\n")}\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ["lib.es2022.d.ts"],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, onError) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion, true)
      : getSourceFile(name, languageVersion, onError);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  const sourceFile = program.getSourceFile(fileName);
  if (!sourceFile) throw new Error("the generated source file is missing from its own program");
  const diagnostics = [
    ...program.getSyntacticDiagnostics(sourceFile),
    ...program.getSemanticDiagnostics(sourceFile),
  ];
  for (const diagnostic of diagnostics) {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    const line =
      diagnostic.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line;
    let owner = -1;
    firstLines.forEach((first, i) => {
      if (first <= line) owner = i;
    });
    const document = typed[owner]?.document;
    problems.push(
      document
        ? `${describe(document)}${pathAt(sourceFile, diagnostic.start)}: ${text}`
        : `${relative(ROOT, fileName)}: ${text}`,
    );
  }
  return problems;
}

/** The property path of the literal at a position, e.g. " at spec.template.spec.containers[0].name". */
function pathAt(sourceFile: ts.SourceFile, position: number | undefined): string {
  if (position === undefined) return "";
  const parts: string[] = [];
  for (
    let node = innermost(sourceFile, sourceFile, position);
    node && !ts.isVariableDeclaration(node);
    node = node.parent
  ) {
    if (ts.isPropertyAssignment(node)) parts.unshift(node.name.getText(sourceFile).replace(/^"|"$/g, ""));
    const parent = node.parent;
    if (parent && ts.isArrayLiteralExpression(parent) && ts.isExpression(node)) {
      parts.unshift(`[${parent.elements.indexOf(node)}]`);
    }
  }
  const path = parts.join(".").replace(/\.\[/g, "[");
  return path === "" ? "" : ` at ${path}`;
}

function innermost(sourceFile: ts.SourceFile, node: ts.Node, position: number): ts.Node | undefined {
  for (const child of node.getChildren(sourceFile)) {
    if (child.getStart(sourceFile) <= position && position < child.getEnd()) {
      return innermost(sourceFile, child, position) ?? child;
    }
  }
  return undefined;
}

/** The compose-spec schema (draft 2019-09) as dclint ships it. */
function composeSchema(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const schema: unknown = JSON.parse(
    readFileSync(require.resolve("dclint/schemas/compose.schema.json"), "utf8"),
  );
  if (!isRecord(schema)) throw new Error("dclint's compose schema is not a JSON object");
  return withoutLegacyIds(schema) as Record<string, unknown>;
}

/**
 * The compose-spec schema still labels its parts with draft-04 `"id": "#/definitions/…"`, which
 * ajv refuses in a 2019-09 schema. They are labels only (every $ref is a JSON pointer), so they go;
 * a property that is named id (an object, not a string) stays.
 */
function withoutLegacyIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLegacyIds);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, member]) => !(key === "id" && typeof member === "string"))
      .map(([key, member]) => [key, withoutLegacyIds(member)]),
  );
}

let composeValidator: ((data: unknown) => string[]) | undefined;

/** Problems the compose-spec schema finds in a compose file's content (already parsed). */
export function composeProblems(data: unknown): string[] {
  if (!composeValidator) {
    const Ajv2019 = ajv2019.default;
    const ajv = new Ajv2019({ allErrors: true, strict: true, allowUnionTypes: true });
    // The schema's one custom format: a port or a range of ports, with an optional protocol.
    ajv.addFormat("expose", /^\d{1,5}(-\d{1,5})?(\/[a-z]+)?$/);
    const validate = ajv.compile(composeSchema());
    composeValidator = (value) =>
      validate(value)
        ? []
        : (validate.errors ?? []).map(
            (e) => `${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`,
          );
  }
  return composeValidator(data);
}
