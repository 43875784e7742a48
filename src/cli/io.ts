import { readFile } from 'node:fs/promises';

/** The streams a route tool talks to; injected so tests run the tools in-process. */
export interface ToolIO {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads route text from a file, or stdin for '-' or no file. On a terminal it first says so on
 * stderr (with `hint`, how to pass a file), so a tool started without input does not wait silently.
 */
export async function readSource(file: string | undefined, io: ToolIO, hint: string): Promise<string> {
  if (file !== undefined && file !== '-') return readFile(file, 'utf8');
  if ((io.stdin as { isTTY?: boolean }).isTTY === true)
    await write(io.stderr, `reading route commands from stdin (end with Ctrl-D); ${hint}\n`);
  return readAll(io.stdin);
}

/** Writes and waits until the data is handed off (so the exit code follows the output). */
export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}
