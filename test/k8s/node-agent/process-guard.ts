/**
 * Pod processes never outlive the agent's process. Containers run in their own process groups (so a Ctrl-C in
 * the terminal does not reach them, and the agent stops them in order); should the agent's process end without
 * stopping them, an exit hook SIGKILLs every live group, and a detached watchdog per state dir does the same if
 * the process is itself SIGKILLed (e.g. a vitest worker torn down): it polls the parent PID and, once it is
 * gone without the agent having stopped, kills the groups listed in `<stateDir>/pgids`.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const groups = new Set<number>();
const stateDirs = new Set<string>();
let hooked = false;

function persist(): void {
  const text = `${[...groups].join(' ')}\n`;
  for (const dir of stateDirs) {
    try {
      writeFileSync(join(dir, 'pgids'), text);
    } catch {
      // the dir is being removed
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

export function trackGroup(pgid: number): void {
  hook();
  groups.add(pgid);
  persist();
}

export function untrackGroup(pgid: number): void {
  groups.delete(pgid);
  persist();
}

/** Starts the watchdog of an agent's state dir. */
export function guardStateDir(dir: string): void {
  hook();
  stateDirs.add(dir);
  rmSync(join(dir, 'stopped'), { force: true });
  persist();
  const script = [
    'parent=$1; dir=$2',
    'while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ] && [ ! -e "$dir/stopped" ]; do sleep 1; done',
    '[ -d "$dir" ] && [ ! -e "$dir/stopped" ] || exit 0',
    'for g in $(cat "$dir/pgids" 2>/dev/null); do kill -KILL -- "-$g" 2>/dev/null; done',
  ].join('\n');
  const child = spawn('bash', ['-c', script, 'millrace-node-agent-watchdog', String(process.pid), dir], { detached: true, stdio: 'ignore' });
  child.unref();
}

/** The agent stopped cleanly: its watchdog ends. */
export function releaseStateDir(dir: string): void {
  stateDirs.delete(dir);
  try {
    writeFileSync(join(dir, 'stopped'), '');
  } catch {
    // removed already
  }
}
