// Preloaded by bench/profile.ts (NODE_OPTIONS=--import …; Node 20 refuses --cpu-prof there): samples
// this process's CPU until it exits and writes a .cpuprofile into CPU_PROFILE_DIR. SIGUSR2 starts
// the profile afresh (bench/profile.ts sends it when the measured window begins).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop');
    session.post('Profiler.start');
  });
  // The in-thread inspector answers synchronously, so this works in an 'exit' listener.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
