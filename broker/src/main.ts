/**
 * Entry point. Turns on Node's compile cache before loading the broker's ~300 modules, which cuts startup
 * from about 0.6 s to about 0.2 s after the first run (the cache lives in the OS temp dir).
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./cli.ts');
