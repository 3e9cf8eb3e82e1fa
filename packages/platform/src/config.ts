import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once against a schema. Every key must have a default or be required
 * on purpose, and a `.describe()` line saying what it is for. Fails fast, naming every bad key.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const source: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') source[key] = value;
  }
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      const doc = schema.shape[key as keyof typeof schema.shape] as z.ZodType | undefined;
      const hint = doc?.description ? ` (${doc.description})` : '';
      return `${key}: ${issue.message}${hint}`;
    }),
  );
}

/** Common environment keys, shared by every service's config schema. */
export const commonConfig = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  HOST: z.string().default('127.0.0.1').describe('interface to listen on'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000).describe('how long to drain in-flight work on SIGTERM'),
};

export const csv = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean));

/** For a process entry point: the parsed config, or a clear message and exit code 1. */
export function loadConfigOrExit<S extends z.ZodObject>(name: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  }
}
