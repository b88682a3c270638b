/** What a command reads and writes outside itself, so that unit tests can hand in their own. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly readFile: (path: string) => Buffer;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}
